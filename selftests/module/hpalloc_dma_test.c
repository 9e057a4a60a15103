// SPDX-License-Identifier: GPL-2.0
/*
 * hpalloc issue 9: what DMA users (DPDK, storage, RDMA) rely on.  A
 * contiguous buffer freed a moment ago can be had again at once.
 */
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "hpa_util.h"
#include "hpa_test_pool.h"

#define OVERCOMMIT "/sys/module/hpalloc/parameters/overcommit"

FIXTURE(dma) {
	int fd;
	int nid;		/* node the test's buffers come from */
	struct hpalloc_version v;
	struct hpa_pools pools0;
	bool have_pools;
};

FIXTURE_VARIANT(dma) {
	unsigned int page_size;
	int ps;			/* index into the pools: 0 2M, 1 1G */
};

FIXTURE_VARIANT_ADD(dma, p2m) {
	.page_size = HPALLOC_PAGE_SIZE_2M, .ps = 0,
};

FIXTURE_VARIANT_ADD(dma, p1g) {
	.page_size = HPALLOC_PAGE_SIZE_1G, .ps = 1,
};

static int set_overcommit(bool on)
{
	FILE *f = fopen(OVERCOMMIT, "w");

	if (!f)
		return -1;
	fputs(on ? "Y\n" : "N\n", f);
	return fclose(f);
}

FIXTURE_SETUP(dma)
{
	int nid;

	self->fd = open("/dev/hpalloc", O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/hpalloc is missing: module not loaded");
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, hpa_version(self->fd, &self->v));
	if (!(self->v.page_sizes & variant->page_size))
		SKIP(return, "page size %u not offered (no pdpe1gb?)",
		     variant->page_size);
	/*
	 * 2 MiB pages from this CPU's node; 1 GiB pages from the highest
	 * node that can give one (in the guest, node 2: 2 MiB pages there
	 * would fragment the GiBs it has).
	 */
	self->nid = variant->ps ? -1 : hpa_cpu_node();
	for (nid = HPA_MAX_NODES - 1; nid >= 0 && self->nid < 0; nid--) {
		struct hpalloc_alloc a;

		if (hpa_pool_read(nid, variant->ps, "total") < 0)
			continue;
		if (hpa_alloc_full(self->fd, variant->page_size,
				   variant->page_size, HPALLOC_POLICY_BIND,
				   1ULL << nid, HPALLOC_ALLOC_CONTIG, &a))
			continue;
		hpa_free(self->fd, a.offset);
		self->nid = nid;
	}
	if (self->nid < 0)
		SKIP(return, "no node can give a %u byte page",
		     variant->page_size);
	HPA_POOLS_SNAPSHOT(self);
}

FIXTURE_TEARDOWN(dma)
{
	set_overcommit(true);
	if (self->fd >= 0)
		close(self->fd);
	HPA_EXPECT_POOLS_BACK(self);
}

static void *map_buf(int fd, uint64_t off, size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
}

/* Wait until a pool has n free pages (freed pages pass through zeroing). */
static void wait_free(int nid, int ps, long n)
{
	long end = hpa_now_ms() + 30000;

	while (hpa_pool_read(nid, ps, "free") < n && hpa_now_ms() < end)
		usleep(20000);
}

/*
 * The pool holds exactly one page and overcommit is off: a contiguous
 * ALLOC right after the FREE of that page finds it being zeroed and must
 * wait for it, as a plain ALLOC does, instead of failing with ENOMEM.
 */
TEST_F(dma, contig_alloc_waits_for_zeroing)
{
	size_t ps = variant->page_size, i;
	int nid = self->nid, ps_i = variant->ps;
	long target0 = hpa_pool_read(nid, ps_i, "target");
	long min0 = hpa_pool_read(nid, ps_i, "min");
	long n = target0 + 1;
	uint64_t bind = 1ULL << nid;
	struct hpalloc_alloc a;
	int round, ret;
	uint64_t *p;

	ASSERT_LE(0, target0);
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "min", n));
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "target", n));
	wait_free(nid, ps_i, n);
	ASSERT_EQ(n, hpa_pool_read(nid, ps_i, "free"));
	ASSERT_EQ(0, set_overcommit(false));

	/* take every page of the pool, dirty them, give them back */
	ASSERT_EQ(0, hpa_alloc_full(self->fd, n * ps, ps, HPALLOC_POLICY_BIND,
				    bind, 0, &a));
	p = map_buf(self->fd, a.offset, n * ps);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < n * ps / 8; i += 4096 / 8)
		p[i] = 0x5a5a5a5a5a5a5a5aULL;
	ASSERT_EQ(0, munmap(p, n * ps));
	ASSERT_EQ(0, hpa_free(self->fd, a.offset));

	for (round = 0; round < 2; round++) {
		/* the one page asked for at once, while it is being zeroed */
		ret = hpa_alloc_full(self->fd, ps, ps, HPALLOC_POLICY_BIND,
				     bind, HPALLOC_ALLOC_CONTIG, &a);
		EXPECT_EQ(0, ret) TH_LOG("round %d: free %ld zeroing %ld",
					 round, hpa_pool_read(nid, ps_i, "free"),
					 hpa_pool_read(nid, ps_i, "zeroing"));
		if (ret)
			break;
		p = map_buf(self->fd, a.offset, ps);
		EXPECT_NE(MAP_FAILED, p);
		for (i = 0; p != MAP_FAILED && i < ps / 8; i += 4096 / 8) {
			if (p[i]) {
				EXPECT_EQ(0, p[i]) TH_LOG("word %zu", i);
				break;
			}
			p[i] = 0x5a5a5a5a5a5a5a5aULL;
		}
		if (p != MAP_FAILED)
			EXPECT_EQ(0, munmap(p, ps));
		EXPECT_EQ(0, hpa_free(self->fd, a.offset));
	}
	/* put the pool back even after a failure: later tests need it */
	set_overcommit(true);
	wait_free(nid, ps_i, n);
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "target", target0));
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "min", min0));
}

TEST_HARNESS_MAIN
