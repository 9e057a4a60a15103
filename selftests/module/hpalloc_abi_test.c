// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctl ABI of /dev/hpalloc under attack: the handshake, every ioctl
 * with bad flags, reserved fields, sizes, policies, nodes, handles and user
 * pointers, capability checks, struct growth in both directions, and a
 * random-ioctl fuzz loop.  After each case the pool counters (sysfs) are
 * where they were: a refused call allocates nothing, a failed copy-out
 * leaks nothing.
 */
#include <linux/capability.h>
#include <sched.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "hpa_util.h"
#include "hpa_test_pool.h"

/*
 * Error codes this file expects where the uapi header leaves a choice;
 * docs/device.md (the ioctl table) is the reference.
 */
#define E_NO_HANDLE	ENOENT	/* FREE/QUERY: a handle of no buffer of this file */
#define E_NOT_HANDLE	EINVAL	/* FREE/QUERY: not a handle's offset at all */
#define E_MAP_NO_BUF	ENXIO	/* mmap: offset names no buffer of this file */
#define E_TOO_BIG	EINVAL	/* size above the ABI's limit (the handle span) */
#define E_NO_MEMORY	ENOMEM	/* within the limit, more than the machine has */

#define NR_IOCTLS	5	/* VERSION, ALLOC, FREE, QUERY, EXPORT_DMABUF */

/* A bad user pointer of each kind: NULL, low, kernel, unmapped. */
static void *bad_pointers[] = {
	NULL,
	(void *)16,
	(void *)0xffffffff81000000UL,
	(void *)0xffff888000000000UL,
	(void *)-4096L,
};

FIXTURE(abi) {
	int fd;
	struct hpalloc_version ver;
	struct hpa_pools pools0;
	bool have_pools;
};

FIXTURE_SETUP(abi)
{
	int ret;

	self->fd = open(HPALLOC_DEVICE, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/hpalloc is missing: module not loaded");
	ASSERT_LE(0, self->fd) TH_LOG("open: %s", strerror(errno));
	ret = hpa_version(self->fd, &self->ver);
	if (ret == -ENOTTY)
		SKIP(return, "HPALLOC_IOC_VERSION not implemented");
	ASSERT_EQ(0, ret);
	if (!(self->ver.ioctls & (1ULL << _IOC_NR(HPALLOC_IOC_ALLOC))))
		SKIP(return, "HPALLOC_IOC_ALLOC not implemented");
	HPA_POOLS_SNAPSHOT(self);
}

FIXTURE_TEARDOWN(abi)
{
	if (self->fd >= 0)
		close(self->fd);
}

static unsigned long resize_cmd(unsigned long cmd, unsigned int size)
{
	return _IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), size);
}

/* A mapping with the last page PROT_NONE; returns the start. */
static char *guarded(size_t rw_pages)
{
	char *p = mmap(NULL, (rw_pages + 1) * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	mprotect(p + rw_pages * 4096, 4096, PROT_NONE);
	return p;
}

/* ---- handshake ----------------------------------------------------------- */

TEST_F(abi, version_handshake)
{
	struct hpalloc_version *v = &self->ver;
	int i;

	EXPECT_EQ(HPALLOC_API_VERSION, v->api);
	EXPECT_EQ(0, v->flags);
	for (i = 0; i < NR_IOCTLS; i++) {
		EXPECT_TRUE(v->ioctls & (1ULL << i)) TH_LOG("ioctl nr %d", i);
	}
	EXPECT_EQ(0, v->ioctls >> NR_IOCTLS) TH_LOG("ioctls %#llx",
						   (unsigned long long)v->ioctls);
	EXPECT_TRUE(v->page_sizes & HPALLOC_PAGE_SIZE_2M);
	EXPECT_EQ(0, v->page_sizes &
		  ~(HPALLOC_PAGE_SIZE_2M | HPALLOC_PAGE_SIZE_1G));
	EXPECT_TRUE(v->features & HPALLOC_FEAT_PMD);
	EXPECT_EQ(!!(v->features & HPALLOC_FEAT_PUD),
		  !!(v->page_sizes & HPALLOC_PAGE_SIZE_1G));
	EXPECT_LE(hpa_nr_nodes_online(), (int)v->nr_node_ids);
	EXPECT_GE(HPA_MAX_NODES, v->nr_node_ids);
	/* The test runs as root with CAP_SYS_RAWIO. */
	EXPECT_TRUE(v->features & HPALLOC_FEAT_PHYS);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0, v->reserved[i]);
	}
}

TEST_F(abi, version_unknown_flags)
{
	struct hpalloc_version v;
	int bit;

	for (bit = 0; bit < 32; bit++) {
		if ((1U << bit) & HPALLOC_VERSION_VALID)
			continue;
		memset(&v, 0, sizeof(v));
		v.flags = 1U << bit;
		EXPECT_EQ(-EINVAL, hpa_ioctl(self->fd, HPALLOC_IOC_VERSION, &v))
			TH_LOG("flags bit %d", bit);
	}
}

/* "Nothing is read but flags": stale output fields are overwritten. */
TEST_F(abi, version_ignores_stale_outputs)
{
	struct hpalloc_version v;

	memset(&v, 0xff, sizeof(v));
	v.flags = 0;
	ASSERT_EQ(0, hpa_ioctl(self->fd, HPALLOC_IOC_VERSION, &v));
	EXPECT_EQ(0, memcmp(&v, &self->ver, sizeof(v)));
}

/* An older caller that only knows flags and api: nothing past is written. */
TEST_F(abi, version_smaller_struct)
{
	unsigned char buf[64];
	struct hpalloc_version *v = (void *)buf;
	size_t i;

	memset(buf, 0x5a, sizeof(buf));
	v->flags = 0;
	ASSERT_EQ(0, hpa_ioctl(self->fd, resize_cmd(HPALLOC_IOC_VERSION, 8),
			       buf));
	EXPECT_EQ(HPALLOC_API_VERSION, v->api);
	for (i = 8; i < sizeof(buf); i++)
		if (buf[i] != 0x5a) {
			EXPECT_EQ(0x5a, buf[i]) TH_LOG("byte %zu written", i);
			break;
		}
}

/* ---- ALLOC with bad input ----------------------------------------------- */

static int alloc_raw(int fd, struct hpalloc_alloc *a)
{
	return hpa_ioctl(fd, HPALLOC_IOC_ALLOC, a);
}

static struct hpalloc_alloc good_alloc(void)
{
	struct hpalloc_alloc a = {
		.size = SZ_2M,
		.page_size = HPALLOC_PAGE_SIZE_2M,
		.policy = HPALLOC_POLICY_LOCAL,
	};
	return a;
}

TEST_F(abi, alloc_unknown_flags)
{
	int bit;

	for (bit = 0; bit < 32; bit++) {
		struct hpalloc_alloc a = good_alloc();

		if ((1U << bit) & HPALLOC_ALLOC_VALID)
			continue;
		a.flags = 1U << bit;
		EXPECT_EQ(-EINVAL, alloc_raw(self->fd, &a))
			TH_LOG("flags bit %d", bit);
	}
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(abi, alloc_reserved_in)
{
	uint32_t vals[] = { 1, 0x80000000u, 0xffffffffu };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		struct hpalloc_alloc a = good_alloc();

		a.reserved_in = vals[i];
		EXPECT_EQ(-EINVAL, alloc_raw(self->fd, &a))
			TH_LOG("reserved_in %#x", vals[i]);
		/* docs/device.md: reserved out fields too */
		a = good_alloc();
		a.reserved_out = vals[i];
		EXPECT_EQ(-EINVAL, alloc_raw(self->fd, &a))
			TH_LOG("reserved_out %#x", vals[i]);
	}
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(abi, alloc_bad_page_size)
{
	uint32_t vals[] = { 1, 4096, 1U << 20, 1U << 22, HPALLOC_PAGE_SIZE_2M |
			    HPALLOC_PAGE_SIZE_1G, 1U << 31, 0xffffffffu,
			    HPALLOC_PAGE_SIZE_2M - 1 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		struct hpalloc_alloc a = good_alloc();

		a.page_size = vals[i];
		EXPECT_EQ(-EINVAL, alloc_raw(self->fd, &a))
			TH_LOG("page_size %#x", vals[i]);
	}
	if (!(self->ver.page_sizes & HPALLOC_PAGE_SIZE_1G)) {
		struct hpalloc_alloc a = good_alloc();

		a.page_size = HPALLOC_PAGE_SIZE_1G;
		EXPECT_EQ(-EINVAL, alloc_raw(self->fd, &a))
			TH_LOG("1 GiB pages not offered but accepted");
	}
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(abi, alloc_bad_policy)
{
	uint32_t vals[] = { HPALLOC_POLICY_MAX, HPALLOC_POLICY_MAX + 1, 255,
			    0x80000000u, 0xffffffffu };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		struct hpalloc_alloc a = good_alloc();

		a.policy = vals[i];
		a.nodemask = 1;
		EXPECT_EQ(-EINVAL, alloc_raw(self->fd, &a))
			TH_LOG("policy %#x", vals[i]);
	}
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(abi, alloc_nodemask_rules)
{
	unsigned int pol, bit;
	struct hpalloc_alloc a;

	/* LOCAL takes no mask. */
	a = good_alloc();
	a.nodemask = 1;
	EXPECT_EQ(-EINVAL, alloc_raw(self->fd, &a)) TH_LOG("LOCAL with a mask");

	for (pol = HPALLOC_POLICY_BIND; pol < HPALLOC_POLICY_MAX; pol++) {
		a = good_alloc();
		a.policy = pol;
		a.nodemask = 0;
		EXPECT_EQ(-EINVAL, alloc_raw(self->fd, &a))
			TH_LOG("policy %u, empty mask", pol);
		/* Nodes that cannot exist, alone and next to a good one. */
		for (bit = self->ver.nr_node_ids; bit < 64; bit++) {
			a = good_alloc();
			a.policy = pol;
			a.nodemask = 1ULL << bit;
			EXPECT_EQ(-EINVAL, alloc_raw(self->fd, &a))
				TH_LOG("policy %u, node %u", pol, bit);
			a.nodemask = 1ULL << bit | 1;
			EXPECT_EQ(-EINVAL, alloc_raw(self->fd, &a))
				TH_LOG("policy %u, nodes 0 and %u", pol, bit);
		}
	}
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(abi, alloc_size_zero)
{
	struct hpalloc_alloc a = good_alloc();

	a.size = 0;
	EXPECT_EQ(-EINVAL, alloc_raw(self->fd, &a));
	HPA_EXPECT_POOLS_BACK(self);
}

/*
 * Sizes above what one handle can span (1 << HPALLOC_HANDLE_SHIFT), including
 * ones whose round-up to the page size overflows to zero: refused, never a
 * small buffer.
 */
TEST_F(abi, alloc_size_over_limit)
{
	uint64_t vals[] = { ~0ULL, ~0ULL - SZ_2M + 2, 1ULL << 63, 1ULL << 52,
			    (1ULL << HPALLOC_HANDLE_SHIFT) + 1,
			    (uint64_t)UINT32_MAX * SZ_2M };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		struct hpalloc_alloc a = good_alloc();
		int ret;

		a.size = vals[i];
		ret = alloc_raw(self->fd, &a);
		EXPECT_EQ(-E_TOO_BIG, ret) TH_LOG("size %#llx: %d",
						 (unsigned long long)vals[i],
						 ret);
	}
	HPA_EXPECT_POOLS_BACK(self);
}

/* Within the limit but more than the machine has: ENOMEM, quickly, cleanly. */
TEST_F(abi, alloc_size_more_than_ram)
{
	uint64_t vals[] = { 64ULL << 30, 1ULL << 40 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		struct hpalloc_alloc a = good_alloc();
		long t0 = hpa_now_ms();
		int ret;

		a.size = vals[i];
		ret = alloc_raw(self->fd, &a);
		EXPECT_EQ(-E_NO_MEMORY, ret) TH_LOG("size %#llx: %d",
						   (unsigned long long)vals[i],
						   ret);
		t0 = hpa_now_ms() - t0;
		TH_LOG("size %#llx refused after %ld ms",
		       (unsigned long long)vals[i], t0);
		/* docs/device.md: checked against the nodes before trying */
		EXPECT_GT(1000, t0);
		if (!ret)
			dev_free(self->fd, a.offset);
	}
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(abi, alloc_result_fields)
{
	struct hpalloc_alloc a = good_alloc();
	uint64_t live[2];

	a.size = 3 * SZ_2M - 4095;	/* rounds up to 3 pages */
	ASSERT_EQ(0, alloc_raw(self->fd, &a));
	live[0] = a.offset;
	EXPECT_EQ(3 * SZ_2M, a.alloc_size);
	EXPECT_EQ(3, a.nr_pages);
	EXPECT_EQ(0, a.reserved_out);
	EXPECT_NE(0, a.nodes);
	EXPECT_EQ(0, a.nodes >> self->ver.nr_node_ids);
	EXPECT_LE(1ULL << HPALLOC_HANDLE_SHIFT, a.offset);
	EXPECT_EQ(0, a.offset % SZ_2M);

	/* A second buffer gets another handle, not overlapping the first. */
	a = good_alloc();
	ASSERT_EQ(0, alloc_raw(self->fd, &a));
	live[1] = a.offset;
	EXPECT_TRUE(live[1] >= live[0] + 3 * SZ_2M ||
		    live[1] + SZ_2M <= live[0]);
	EXPECT_EQ(0, dev_free(self->fd, live[0]));
	EXPECT_EQ(0, dev_free(self->fd, live[1]));
	HPA_EXPECT_POOLS_BACK(self);
}

/* The result cannot be written back: the buffer must not stay behind. */
TEST_F(abi, alloc_unwritable_result_leaks_nothing)
{
	struct hpalloc_alloc a = good_alloc();
	char *p = guarded(1);

	ASSERT_NE(NULL, p);
	a.size = 2 * SZ_2M;
	memcpy(p, &a, sizeof(a));
	ASSERT_EQ(0, mprotect(p, 4096, PROT_READ));
	EXPECT_EQ(-EFAULT, hpa_ioctl(self->fd, HPALLOC_IOC_ALLOC, p));
	/* Same with the struct's tail running into the guard page. */
	ASSERT_EQ(0, mprotect(p, 4096, PROT_READ | PROT_WRITE));
	memcpy(p + 4096 - 40, &a, 40);
	EXPECT_EQ(-EFAULT, hpa_ioctl(self->fd, HPALLOC_IOC_ALLOC,
				     p + 4096 - 40));
	munmap(p, 2 * 4096);
	close(self->fd);	/* nothing may hide behind the file either */
	self->fd = -1;
	HPA_EXPECT_POOLS_BACK(self);
}

/* ---- FREE and handles ----------------------------------------------------- */

TEST_F(abi, free_unknown_handle)
{
	uint64_t handles[] = { 1ULL << HPALLOC_HANDLE_SHIFT,
			       2ULL << HPALLOC_HANDLE_SHIFT,
			       12345ULL << HPALLOC_HANDLE_SHIFT,
			       ~0ULL << HPALLOC_HANDLE_SHIFT };
	uint64_t others[] = { 0, 4096, SZ_2M,
			      (1ULL << HPALLOC_HANDLE_SHIFT) + SZ_2M, ~0ULL,
			      ~0ULL - SZ_2M + 1 };
	size_t i;

	/* This file has no buffer at all. */
	for (i = 0; i < ARRAY_SIZE(handles); i++) {
		EXPECT_EQ(-E_NO_HANDLE, dev_free(self->fd, handles[i]))
			TH_LOG("handle %#llx", (unsigned long long)handles[i]);
		EXPECT_EQ(-E_NO_HANDLE, hpa_query(self->fd, handles[i], 0,
						  NULL, 0, NULL));
	}
	for (i = 0; i < ARRAY_SIZE(others); i++) {
		EXPECT_EQ(-E_NOT_HANDLE, dev_free(self->fd, others[i]))
			TH_LOG("offset %#llx", (unsigned long long)others[i]);
		EXPECT_EQ(-E_NOT_HANDLE, hpa_query(self->fd, others[i], 0,
						   NULL, 0, NULL));
	}
}

TEST_F(abi, free_bad_flags_keeps_buffer)
{
	struct hpalloc_free f;
	uint64_t off;
	char *p;
	int bit;

	ASSERT_EQ(0, dev_alloc(self->fd, SZ_2M, 0, &off));
	for (bit = 0; bit < 32; bit++) {
		if (!((1U << bit) & HPALLOC_FREE_VALID)) {
			f = (struct hpalloc_free){ .offset = off,
						   .flags = 1U << bit };
			EXPECT_EQ(-EINVAL,
				  hpa_ioctl(self->fd, HPALLOC_IOC_FREE, &f))
				TH_LOG("flags bit %d", bit);
		}
		f = (struct hpalloc_free){ .offset = off, .reserved = 1U << bit };
		EXPECT_EQ(-EINVAL, hpa_ioctl(self->fd, HPALLOC_IOC_FREE, &f))
			TH_LOG("reserved bit %d", bit);
	}
	/* Refused frees left the buffer alone. */
	p = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, off);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("buffer gone after refused FREE");
	p[0] = 1;
	EXPECT_EQ(0, munmap(p, SZ_2M));
	EXPECT_EQ(0, dev_free(self->fd, off));
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(abi, double_free)
{
	uint64_t off;

	ASSERT_EQ(0, dev_alloc(self->fd, SZ_2M, 0, &off));
	EXPECT_EQ(0, dev_free(self->fd, off));
	EXPECT_EQ(-E_NO_HANDLE, dev_free(self->fd, off));
	EXPECT_EQ(-E_NO_HANDLE, hpa_query(self->fd, off, 0, NULL, 0, NULL));
	HPA_EXPECT_POOLS_BACK(self);
}

/* A handle plus an offset into its buffer is not a handle. */
TEST_F(abi, free_inside_buffer)
{
	uint64_t off, bad[] = { SZ_2M, 4096, 1, 2 * SZ_2M };
	size_t i;

	ASSERT_EQ(0, dev_alloc(self->fd, 2 * SZ_2M, 0, &off));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-E_NOT_HANDLE, dev_free(self->fd, off + bad[i]))
			TH_LOG("handle + %#llx", (unsigned long long)bad[i]);
	}
	EXPECT_EQ(0, dev_free(self->fd, off));
	HPA_EXPECT_POOLS_BACK(self);
}

/* Handles are private to the open file that made them. */
TEST_F(abi, handle_scoped_to_file)
{
	int other = open(HPALLOC_DEVICE, O_RDWR | O_CLOEXEC);
	uint64_t off;
	void *p;

	ASSERT_LE(0, other);
	ASSERT_EQ(0, dev_alloc(self->fd, SZ_2M, 0, &off));
	EXPECT_EQ(-E_NO_HANDLE, hpa_query(other, off, 0, NULL, 0, NULL));
	p = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED, other, off);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(E_MAP_NO_BUF, errno);
	EXPECT_EQ(-E_NO_HANDLE, dev_free(other, off));
	close(other);
	EXPECT_EQ(0, dev_free(self->fd, off)) TH_LOG("other file freed it");
	HPA_EXPECT_POOLS_BACK(self);
}

/* ---- QUERY ---------------------------------------------------------------- */

TEST_F(abi, query_fields)
{
	struct hpalloc_page_info pi[4];
	struct hpalloc_query q;
	struct hpalloc_alloc a;
	int i;

	ASSERT_EQ(0, dev_alloc_full(self->fd, 3 * SZ_2M, 0,
				    HPALLOC_POLICY_LOCAL, 0, 0, &a));
	memset(pi, 0xa5, sizeof(pi));
	ASSERT_EQ(0, hpa_query(self->fd, a.offset, 0, pi, 4, &q));
	EXPECT_EQ(3 * SZ_2M, q.alloc_size);
	EXPECT_EQ(HPALLOC_PAGE_SIZE_2M, q.page_size);
	EXPECT_EQ(3, q.nr_pages);
	EXPECT_EQ(3, q.nr_filled);
	EXPECT_EQ(a.nodes, q.nodes);
	EXPECT_EQ(0, q.out_flags & ~HPALLOC_BUF_CONTIG);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, pi[i].phys) TH_LOG("phys without QUERY_PHYS");
		EXPECT_TRUE(pi[i].node >= 0 && (a.nodes >> pi[i].node) & 1);
		EXPECT_EQ(0, pi[i].reserved);
	}
	/* Record 3 is past the buffer: untouched. */
	EXPECT_EQ(0xa5a5a5a5a5a5a5a5ULL, pi[3].phys);

	/* first_page picks the window. */
	ASSERT_EQ(0, hpa_query(self->fd, a.offset, HPALLOC_QUERY_PHYS,
			       pi, 4, &q));
	EXPECT_EQ(3, q.nr_filled);
	for (i = 1; i < 3; i++) {
		EXPECT_EQ(hpa_buf_phys(self->fd, a.offset, i), pi[i].phys);
		EXPECT_EQ(0, pi[i].phys % SZ_2M);
	}
	/* nr_entries 0 and no array: sizes only. */
	ASSERT_EQ(0, hpa_query(self->fd, a.offset, 0, NULL, 0, &q));
	EXPECT_EQ(0, q.nr_filled);
	EXPECT_EQ(3, q.nr_pages);
	EXPECT_EQ(0, dev_free(self->fd, a.offset));
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(abi, query_first_page_past_end)
{
	struct hpalloc_page_info pi;
	struct hpalloc_query q = { 0 };
	uint64_t off;

	ASSERT_EQ(0, dev_alloc(self->fd, 2 * SZ_2M, 0, &off));
	q.offset = off;
	q.first_page = 2;
	q.pages_ptr = (uintptr_t)&pi;
	q.nr_entries = 1;
	EXPECT_EQ(0, hpa_ioctl(self->fd, HPALLOC_IOC_QUERY, &q));
	EXPECT_EQ(0, q.nr_filled);
	/* past the end: refused */
	q.first_page = 3;
	EXPECT_EQ(-EINVAL, hpa_ioctl(self->fd, HPALLOC_IOC_QUERY, &q));
	q.first_page = 0xffffffffu;
	q.nr_entries = 0xffffffffu;
	EXPECT_EQ(-EINVAL, hpa_ioctl(self->fd, HPALLOC_IOC_QUERY, &q));
	EXPECT_EQ(0, dev_free(self->fd, off));
}

TEST_F(abi, query_bad_flags_and_reserved)
{
	struct hpalloc_query q;
	uint64_t off;
	int bit;

	ASSERT_EQ(0, dev_alloc(self->fd, SZ_2M, 0, &off));
	for (bit = 0; bit < 32; bit++) {
		if ((1U << bit) & HPALLOC_QUERY_VALID)
			continue;
		q = (struct hpalloc_query){ .offset = off, .flags = 1U << bit };
		EXPECT_EQ(-EINVAL, hpa_ioctl(self->fd, HPALLOC_IOC_QUERY, &q))
			TH_LOG("flags bit %d", bit);
	}
	q = (struct hpalloc_query){ .offset = off, .reserved_in = 1 };
	EXPECT_EQ(-EINVAL, hpa_ioctl(self->fd, HPALLOC_IOC_QUERY, &q));
	q = (struct hpalloc_query){ .offset = off };
	EXPECT_EQ(0, hpa_ioctl(self->fd, HPALLOC_IOC_QUERY, &q));
	EXPECT_EQ(0, dev_free(self->fd, off));
}

TEST_F(abi, query_bad_pages_ptr)
{
	struct hpalloc_query q;
	uint64_t off;
	size_t i;
	char *g;

	ASSERT_EQ(0, dev_alloc(self->fd, 2 * SZ_2M, 0, &off));
	for (i = 0; i < ARRAY_SIZE(bad_pointers); i++) {
		q = (struct hpalloc_query){
			.offset = off,
			.pages_ptr = (uintptr_t)bad_pointers[i],
			.nr_entries = 2,
		};
		EXPECT_EQ(-EFAULT, hpa_ioctl(self->fd, HPALLOC_IOC_QUERY, &q))
			TH_LOG("pages_ptr %p", bad_pointers[i]);
	}
	/* Read-only memory, and an array whose second record is unmapped. */
	g = guarded(1);
	ASSERT_NE(NULL, g);
	q = (struct hpalloc_query){
		.offset = off,
		.pages_ptr = (uintptr_t)(g + 4096 - 16),
		.nr_entries = 2,
	};
	EXPECT_EQ(-EFAULT, hpa_ioctl(self->fd, HPALLOC_IOC_QUERY, &q));
	ASSERT_EQ(0, mprotect(g, 4096, PROT_READ));
	q.pages_ptr = (uintptr_t)g;
	EXPECT_EQ(-EFAULT, hpa_ioctl(self->fd, HPALLOC_IOC_QUERY, &q));
	munmap(g, 2 * 4096);
	EXPECT_EQ(0, dev_free(self->fd, off));
	HPA_EXPECT_POOLS_BACK(self);
}

static int drop_cap_sys_rawio(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[CAP_SYS_RAWIO / 32].effective &= ~(1U << (CAP_SYS_RAWIO % 32));
	data[CAP_SYS_RAWIO / 32].permitted &= ~(1U << (CAP_SYS_RAWIO % 32));
	data[CAP_SYS_RAWIO / 32].inheritable &= ~(1U << (CAP_SYS_RAWIO % 32));
	if (syscall(SYS_capset, &hdr, data))
		return -1;
	return prctl(PR_CAPBSET_DROP, CAP_SYS_RAWIO, 0, 0, 0);
}

static int cap_sys_rawio_effective(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	return !!(data[CAP_SYS_RAWIO / 32].effective &
		  (1U << (CAP_SYS_RAWIO % 32)));
}

/* Child exit codes of query_phys_needs_cap_sys_rawio. */
enum { PHYS_OK, PHYS_NO_DROP, PHYS_NOT_EPERM, PHYS_PLAIN_FAILED,
	PHYS_LEAKED, PHYS_FEATURE_SET };

TEST_F(abi, query_phys_needs_cap_sys_rawio)
{
	struct hpalloc_page_info pi;
	int status, ret;
	uint64_t off;
	char *p;
	pid_t pid;

	if (cap_sys_rawio_effective() != 1)
		SKIP(return, "test does not run with CAP_SYS_RAWIO");
	ASSERT_EQ(0, dev_alloc(self->fd, SZ_2M, 0, &off));

	/* With the capability: the same address pagemap shows. */
	p = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, off);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 1;
	EXPECT_EQ(hpa_pagemap_phys(p), hpa_buf_phys(self->fd, off, 0));
	EXPECT_NE(0, hpa_buf_phys(self->fd, off, 0));
	munmap(p, SZ_2M);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct hpalloc_version v;

		if (drop_cap_sys_rawio() || cap_sys_rawio_effective() != 0)
			_exit(PHYS_NO_DROP);
		memset(&pi, 0x77, sizeof(pi));
		ret = hpa_query(self->fd, off, HPALLOC_QUERY_PHYS, &pi, 1, NULL);
		if (ret != -EPERM)
			_exit(PHYS_NOT_EPERM);
		if (pi.phys != 0x7777777777777777ULL && pi.phys != 0)
			_exit(PHYS_LEAKED);
		if (hpa_query(self->fd, off, 0, &pi, 1, NULL) || pi.phys)
			_exit(PHYS_PLAIN_FAILED);
		if (hpa_version(self->fd, &v) ||
		    (v.features & HPALLOC_FEAT_PHYS))
			_exit(PHYS_FEATURE_SET);
		_exit(PHYS_OK);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_NE(PHYS_NO_DROP, WEXITSTATUS(status))
		TH_LOG("could not drop CAP_SYS_RAWIO");
	EXPECT_EQ(PHYS_OK, WEXITSTATUS(status))
		TH_LOG("child without CAP_SYS_RAWIO: case %d (2 = QUERY_PHYS "
		       "not EPERM, 3 = plain query, 4 = phys leaked, "
		       "5 = FEAT_PHYS set)", WEXITSTATUS(status));
	EXPECT_EQ(0, dev_free(self->fd, off));
}

/*
 * The other confused deputy: a file opened by a process without
 * CAP_SYS_RAWIO (here one that dropped it, and one in a user namespace,
 * where it holds every capability of that namespace only) and handed to a
 * privileged process gives no physical addresses to the latter either.
 */
TEST_F(abi, query_phys_needs_privileged_opener)
{
	struct hpalloc_page_info pi;
	struct hpalloc_version v;
	int sv[2], fd, status, how;
	uint64_t off;
	pid_t pid;

	if (cap_sys_rawio_effective() != 1)
		SKIP(return, "test does not run with CAP_SYS_RAWIO");
	for (how = 0; how < 2; how++) {
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			int cfd;

			close(sv[0]);
			if (how == 0 && drop_cap_sys_rawio())
				_exit(1);
			if (how == 1 && unshare(CLONE_NEWUSER))
				_exit(2);
			cfd = open(HPALLOC_DEVICE, O_RDWR);
			if (cfd < 0 || dev_alloc(cfd, SZ_2M, 0, &off))
				_exit(3);
			_exit(hpa_send_fd(sv[1], cfd, off) ? 4 : 0);
		}
		close(sv[1]);
		fd = hpa_recv_fd(sv[0], &off);
		close(sv[0]);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		if (how == 1 && WEXITSTATUS(status) == 2) {
			TH_LOG("no user namespaces here: that case not tried");
			continue;
		}
		ASSERT_EQ(0, WEXITSTATUS(status));
		ASSERT_LE(0, fd);
		memset(&pi, 0x77, sizeof(pi));
		EXPECT_EQ(-EPERM, hpa_query(fd, off, HPALLOC_QUERY_PHYS, &pi, 1,
					    NULL))
			TH_LOG("%s opener", how ? "user-namespace" : "unprivileged");
		EXPECT_TRUE(pi.phys == 0 || pi.phys == 0x7777777777777777ULL);
		EXPECT_EQ(0, hpa_query(fd, off, 0, &pi, 1, NULL));
		ASSERT_EQ(0, hpa_version(fd, &v));
		EXPECT_FALSE(v.features & HPALLOC_FEAT_PHYS);
		EXPECT_EQ(0, dev_free(fd, off));
		close(fd);
	}
	HPA_EXPECT_POOLS_BACK(self);
}

/* ---- pointers and command numbers ----------------------------------------- */

TEST_F(abi, bad_user_pointers)
{
	unsigned long cmds[] = { HPALLOC_IOC_VERSION, HPALLOC_IOC_ALLOC,
				 HPALLOC_IOC_FREE, HPALLOC_IOC_QUERY };
	size_t c, i;

	for (c = 0; c < ARRAY_SIZE(cmds); c++)
		for (i = 0; i < ARRAY_SIZE(bad_pointers); i++) {
			EXPECT_EQ(-EFAULT, hpa_ioctl(self->fd, cmds[c],
						     bad_pointers[i]))
				TH_LOG("ioctl nr %d, arg %p",
				       (int)_IOC_NR(cmds[c]), bad_pointers[i]);
		}
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(abi, unknown_ioctl_nr)
{
	unsigned int sizes[] = { 0, 8, 64, 4096 };
	char *buf = calloc(1, 4096);
	unsigned int nr, s, dir;

	ASSERT_NE(NULL, buf);
	for (nr = NR_IOCTLS; nr < 256; nr++)
		for (s = 0; s < ARRAY_SIZE(sizes); s++)
			for (dir = 0; dir < 4; dir++) {
				unsigned long cmd = _IOC(dir, HPALLOC_IOC_MAGIC,
							 nr, sizes[s]);

				EXPECT_EQ(-ENOTTY, hpa_ioctl(self->fd, cmd, buf))
					TH_LOG("cmd %#lx", cmd);
			}
	free(buf);
}

/* The right numbers and sizes under another magic are not ours. */
TEST_F(abi, wrong_magic)
{
	unsigned long cmds[] = { HPALLOC_IOC_VERSION, HPALLOC_IOC_ALLOC,
				 HPALLOC_IOC_FREE, HPALLOC_IOC_QUERY };
	unsigned int magics[] = { HPALLOC_IOC_MAGIC - 1, HPALLOC_IOC_MAGIC + 1,
				  0xff, 0xb0 };
	struct hpalloc_alloc a = good_alloc();
	size_t c, m;

	for (c = 0; c < ARRAY_SIZE(cmds); c++)
		for (m = 0; m < ARRAY_SIZE(magics); m++) {
			unsigned long cmd = _IOC(_IOC_DIR(cmds[c]), magics[m],
						 _IOC_NR(cmds[c]),
						 _IOC_SIZE(cmds[c]));

			EXPECT_EQ(-ENOTTY, hpa_ioctl(self->fd, cmd, &a))
				TH_LOG("cmd %#lx", cmd);
		}
	HPA_EXPECT_POOLS_BACK(self);
}

/* docs/device.md: the wrong direction bits are another command. */
TEST_F(abi, wrong_direction)
{
	unsigned long cmds[] = { HPALLOC_IOC_VERSION, HPALLOC_IOC_ALLOC,
				 HPALLOC_IOC_FREE, HPALLOC_IOC_QUERY };
	struct hpalloc_alloc a = good_alloc();
	size_t c;
	int dir;

	for (c = 0; c < ARRAY_SIZE(cmds); c++)
		for (dir = 0; dir < 4; dir++) {
			unsigned long cmd = _IOC(dir, HPALLOC_IOC_MAGIC,
						 _IOC_NR(cmds[c]),
						 _IOC_SIZE(cmds[c]));

			if ((unsigned int)dir == _IOC_DIR(cmds[c]))
				continue;
			EXPECT_EQ(-ENOTTY, hpa_ioctl(self->fd, cmd, &a))
				TH_LOG("cmd %#lx", cmd);
		}
	HPA_EXPECT_POOLS_BACK(self);
}

/* ---- struct growth ---------------------------------------------------------- */

/* A caller built against shorter structs still gets its buffer. */
TEST_F(abi, older_smaller_structs)
{
	unsigned char buf[128];
	struct hpalloc_alloc *a = (void *)buf;
	struct hpalloc_query *q = (void *)buf;
	struct hpalloc_free *f = (void *)buf;
	size_t asz = offsetof(struct hpalloc_alloc, alloc_size);
	size_t qsz = offsetof(struct hpalloc_query, nr_filled);
	uint64_t off;
	size_t i;
	char *p;

	/* ALLOC knowing fields up to the handle. */
	memset(buf, 0x5a, sizeof(buf));
	memset(buf, 0, asz);
	a->size = 2 * SZ_2M;
	ASSERT_EQ(0, hpa_ioctl(self->fd, resize_cmd(HPALLOC_IOC_ALLOC, asz),
			       buf));
	off = a->offset;
	for (i = asz; i < sizeof(buf); i++)
		if (buf[i] != 0x5a) {
			EXPECT_EQ(0x5a, buf[i]) TH_LOG("ALLOC wrote byte %zu", i);
			break;
		}
	p = mmap(NULL, 2 * SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd,
		 off);
	ASSERT_NE(MAP_FAILED, p);
	p[SZ_2M] = 1;
	munmap(p, 2 * SZ_2M);

	/* QUERY knowing fields up to nr_pages. */
	memset(buf, 0x5a, sizeof(buf));
	memset(buf, 0, qsz);
	q->offset = off;
	ASSERT_EQ(0, hpa_ioctl(self->fd, resize_cmd(HPALLOC_IOC_QUERY, qsz),
			       buf));
	EXPECT_EQ(2 * SZ_2M, q->alloc_size);
	EXPECT_EQ(2, q->nr_pages);
	EXPECT_EQ(0x5a, buf[qsz]) TH_LOG("QUERY wrote past its size");

	/* FREE knowing only the handle: flags and reserved read as zero. */
	memset(buf, 0x5a, sizeof(buf));
	f->offset = off;
	ASSERT_EQ(0, hpa_ioctl(self->fd, resize_cmd(HPALLOC_IOC_FREE, 8), buf));
	EXPECT_EQ(-E_NO_HANDLE, dev_free(self->fd, off));
	HPA_EXPECT_POOLS_BACK(self);
}

/* An ALLOC that carries no size field: the size reads as zero. */
TEST_F(abi, alloc_struct_without_size)
{
	uint64_t buf[8] = { SZ_2M };

	EXPECT_EQ(-EINVAL, hpa_ioctl(self->fd, resize_cmd(HPALLOC_IOC_ALLOC, 0),
				     buf));
	HPA_EXPECT_POOLS_BACK(self);
}

/*
 * A newer caller's larger struct: a zero tail works; a non-zero byte
 * anywhere in it is E2BIG, and nothing was allocated or freed.
 */
TEST_F(abi, newer_larger_structs)
{
	unsigned int tails[] = { 8, 64, 4096 - 64, 16383 - 64 };
	size_t t, c;

	for (t = 0; t < ARRAY_SIZE(tails); t++) {
		for (c = 0; c < NR_IOCTLS; c++) {
			unsigned long base[] = {
				HPALLOC_IOC_VERSION, HPALLOC_IOC_ALLOC,
				HPALLOC_IOC_FREE, HPALLOC_IOC_QUERY,
				HPALLOC_IOC_EXPORT_DMABUF };
			unsigned int bsz = _IOC_SIZE(base[c]);
			unsigned int sz = bsz + tails[t];
			unsigned long cmd = resize_cmd(base[c], sz);
			unsigned char *buf = calloc(1, sz);
			struct hpalloc_alloc *a = (void *)buf;
			unsigned int pos[] = { bsz, sz - 1, bsz + (sz - bsz) / 2 };
			uint64_t off = 0;
			size_t i;

			ASSERT_NE(NULL, buf);
			/* FREE, QUERY and EXPORT need a live handle. */
			if (base[c] == HPALLOC_IOC_FREE ||
			    base[c] == HPALLOC_IOC_QUERY ||
			    base[c] == HPALLOC_IOC_EXPORT_DMABUF)
				ASSERT_EQ(0, dev_alloc(self->fd, SZ_2M, 0, &off));

			for (i = 0; i < ARRAY_SIZE(pos); i++) {
				memset(buf, 0, sz);
				if (base[c] == HPALLOC_IOC_ALLOC)
					a->size = SZ_2M;
				else if (off)
					memcpy(buf, &off, 8);
				buf[pos[i]] = 0x01;
				EXPECT_EQ(-E2BIG, hpa_ioctl(self->fd, cmd, buf))
					TH_LOG("nr %d size %u: byte %u set", (int)
					       _IOC_NR(cmd), sz, pos[i]);
			}
			memset(buf, 0, sz);
			if (base[c] == HPALLOC_IOC_ALLOC)
				a->size = SZ_2M;
			else if (off)
				memcpy(buf, &off, 8);
			EXPECT_EQ(0, hpa_ioctl(self->fd, cmd, buf))
				TH_LOG("nr %d size %u, zero tail", (int)_IOC_NR(cmd),
				       sz);
			if (base[c] == HPALLOC_IOC_ALLOC) {
				EXPECT_EQ(SZ_2M, a->alloc_size);
				EXPECT_EQ(0, dev_free(self->fd, a->offset));
			} else if (base[c] == HPALLOC_IOC_QUERY) {
				EXPECT_EQ(SZ_2M,
					  ((struct hpalloc_query *)buf)->alloc_size);
			}
			if (base[c] == HPALLOC_IOC_VERSION) {
				EXPECT_EQ(HPALLOC_API_VERSION,
					  ((struct hpalloc_version *)buf)->api);
			}
			if (base[c] == HPALLOC_IOC_EXPORT_DMABUF) {
				struct hpalloc_export_dmabuf *e = (void *)buf;

				EXPECT_LE(0, e->fd);
				EXPECT_EQ(0, close(e->fd));
			}
			/* FREE with a zero tail freed it; else free it now. */
			if (base[c] == HPALLOC_IOC_QUERY ||
			    base[c] == HPALLOC_IOC_EXPORT_DMABUF) {
				EXPECT_EQ(0, dev_free(self->fd, off));
			}
			if (base[c] == HPALLOC_IOC_FREE) {
				EXPECT_EQ(-E_NO_HANDLE, dev_free(self->fd, off));
			}
			free(buf);
		}
	}
	HPA_EXPECT_POOLS_BACK(self);
}

/* ---- fuzz ------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the printed seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

#define FUZZ_CALLS	3000
#define FUZZ_ARENA	(5 * 4096)	/* 4 pages read/write, then a guard */
#define FUZZ_LIVE	8

/* errno values the device may answer a garbage ioctl with. */
static bool fuzz_errno_ok(int e)
{
	return e == EINVAL || e == ENOTTY || e == EFAULT || e == E2BIG ||
	       e == ENOMEM || e == ENOENT || e == EPERM || e == EOPNOTSUPP;
}

static void fuzz_mutate(unsigned char *buf, unsigned int size)
{
	unsigned int n = rnd() % 4, pos;

	while (n-- && size) {
		pos = rnd() % (size < 72 ? size : 72);
		switch (rnd() % 4) {
		case 0:
			buf[pos] = rnd();
			break;
		case 1:
			buf[pos] ^= 1U << (rnd() % 8);
			break;
		case 2:
			if (pos + 4 <= size) {
				uint32_t v = rnd();

				memcpy(buf + pos, &v, 4);
			}
			break;
		default:
			if (pos + 8 <= size) {
				uint64_t v = rnd() >> (rnd() % 64);

				memcpy(buf + pos, &v, 8);
			}
		}
	}
}

TEST_F_TIMEOUT(abi, fuzz_random_ioctls, 180)
{
	unsigned char *arena = (unsigned char *)guarded(4);
	struct hpalloc_page_info *scratch = calloc(64, sizeof(*scratch));
	uint64_t live[FUZZ_LIVE] = { 0 }, seed;
	unsigned int ok = 0, bad_errno = 0, i, k;
	int ffd, last_bad = 0;
	const char *env = getenv("HPA_FUZZ_SEED");
	struct hpalloc_version v;
	char *p;

	ASSERT_NE(NULL, arena);
	ASSERT_NE(NULL, scratch);
	seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ getpid();
	if (!seed)
		seed = 1;
	rng_state = seed;
	TH_LOG("fuzz seed %#llx (set HPA_FUZZ_SEED to repeat)",
	       (unsigned long long)seed);
	ksft_print_msg("fuzz seed %#llx\n", (unsigned long long)seed);

	ffd = open(HPALLOC_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, ffd);
	for (i = 0; i < FUZZ_CALLS; i++) {
		unsigned int magic = HPALLOC_IOC_MAGIC, nr, dir, size;
		unsigned char *buf = arena;
		unsigned long cmd;
		void *arg;
		int ret;

		if (rnd() % 16 == 0)	/* a neighbour no VFS ioctl uses */
			magic = 0xa0 + rnd() % 32;
		nr = rnd() % 8 < 7 ? rnd() % (NR_IOCTLS + 1) : rnd() % 256;
		dir = rnd() % 8 < 6 ? (_IOC_READ | _IOC_WRITE) : rnd() % 4;
		switch (rnd() % 6) {
		case 0:
			size = rnd() % (4 * 4096);
			break;
		case 1:
			size = rnd() % 80;
			break;
		default:
			size = nr == 2 ? 16 : 64;
		}
		if (rnd() % 32 == 0)
			buf = arena + 4 * 4096 - (size ? rnd() % size : 0);
		memset(arena, 0, 4 * 4096);
		if (buf + size > arena + 4 * 4096)
			memset(buf, 0, arena + 4 * 4096 - buf);

		/* Start from a valid request half of the time. */
		if (rnd() % 2 && buf == arena) {
			k = rnd() % FUZZ_LIVE;
			if (nr == 1) {
				struct hpalloc_alloc a = good_alloc();

				a.size = (1 + rnd() % 4) * SZ_2M;
				memcpy(buf, &a, sizeof(a));
			} else if (nr == 2 || nr == 3) {
				memcpy(buf, &live[k], 8);
			}
		}
		fuzz_mutate(buf, buf == arena ? size : 0);
		/* Keep allocations small (emulated zeroing is slow). */
		if (nr == 1 && buf == arena) {
			struct hpalloc_alloc *a = (void *)buf;

			if (a->size > (64ULL << 20) &&
			    a->size <= 1ULL << HPALLOC_HANDLE_SHIFT)
				a->size %= 64ULL << 20;
			if (a->page_size == HPALLOC_PAGE_SIZE_1G)
				a->page_size = HPALLOC_PAGE_SIZE_2M;
		}
		/* QUERY writes where pages_ptr points: only our scratch or bad. */
		if (nr == 3 && buf == arena) {
			struct hpalloc_query *q = (void *)buf;

			if (q->pages_ptr) {
				q->pages_ptr = rnd() % 2 ? (uintptr_t)scratch :
					(uintptr_t)bad_pointers[rnd() % 5];
				if (q->pages_ptr == (uintptr_t)scratch &&
				    q->nr_entries > 64)
					q->nr_entries = 64;
			}
		}
		arg = buf;
		if (rnd() % 16 == 0)
			arg = bad_pointers[rnd() % ARRAY_SIZE(bad_pointers)];

		cmd = _IOC(dir, magic, nr, size);
		ret = ioctl(ffd, cmd, arg);
		if (ret == 0) {
			ok++;
		} else if (!fuzz_errno_ok(errno)) {
			bad_errno++;
			last_bad = errno;
			TH_LOG("call %u cmd %#lx: unexpected errno %d", i, cmd,
			       errno);
		}
		/* Track handles of successful allocations; free some. */
		if (ret == 0 && magic == HPALLOC_IOC_MAGIC && nr == 1 &&
		    (dir & _IOC_READ) && size >= 40 && arg == arena) {
			struct hpalloc_alloc *a = (void *)arena;

			k = rnd() % FUZZ_LIVE;
			if (live[k])
				dev_free(ffd, live[k]);
			live[k] = a->offset;
		}
		/* An exported dma-buf holds its buffer: close it. */
		if (ret == 0 && magic == HPALLOC_IOC_MAGIC && nr == 4 &&
		    arg == arena) {
			struct hpalloc_export_dmabuf *e = (void *)arena;

			EXPECT_EQ(0, close(e->fd));
		}
	}
	close(ffd);
	TH_LOG("%u of %u calls succeeded", ok, FUZZ_CALLS);
	EXPECT_EQ(0, bad_errno) TH_LOG("last unexpected errno %d", last_bad);

	/* The device still works, and nothing was left behind. */
	ASSERT_EQ(0, hpa_version(self->fd, &v));
	EXPECT_EQ(0, memcmp(&v, &self->ver, sizeof(v)));
	ASSERT_EQ(0, dev_alloc(self->fd, SZ_2M, 0, &seed));
	p = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, seed);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, p[SZ_2M - 1]);
	p[0] = 1;
	munmap(p, SZ_2M);
	EXPECT_EQ(0, dev_free(self->fd, seed));
	HPA_EXPECT_POOLS_BACK(self);
	munmap(arena, FUZZ_ARENA);
	free(scratch);
}

TEST_HARNESS_MAIN
