// SPDX-License-Identifier: GPL-2.0
/*
 * hpalloc issue 3: the ioctl ABI, pools, placement, contiguity, mapping
 * rules, pinning, limits and adversarial use, checked from outside: fault
 * counts, physical ranges of the nodes, bytes read back, pool counters.
 */
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "hpa_util.h"
#include "hpa_test_pool.h"


FIXTURE(pool) {
	int fd;
	int nid;		/* node for 1 GiB buffers; -1: local */
	struct hpalloc_version v;
	struct hpa_pools pools0;
	bool have_pools;
};

FIXTURE_VARIANT(pool) {
	unsigned int page_size;
	int ps;			/* index into the pools: 0 2M, 1 1G */
	unsigned int nr;	/* pages to use where a test needs a few */
};

FIXTURE_VARIANT_ADD(pool, p2m) {
	.page_size = HPALLOC_PAGE_SIZE_2M, .ps = 0, .nr = 4,
};

FIXTURE_VARIANT_ADD(pool, p1g) {
	.page_size = HPALLOC_PAGE_SIZE_1G, .ps = 1, .nr = 1,
};

static bool node_has_memory(int nid)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/kernel/hpalloc/node%d/2M/total",
		 nid);
	return access(path, F_OK) == 0;
}

FIXTURE_SETUP(pool)
{
	self->fd = open("/dev/hpalloc", O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/hpalloc is missing: module not loaded");
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, hpa_version(self->fd, &self->v));
	if (!(self->v.page_sizes & variant->page_size))
		SKIP(return, "page size %u not offered (no pdpe1gb?)",
		     variant->page_size);
	self->nid = -1;
	if (variant->ps) {
		/* 1 GiB pages: the node that has one reserved */
		self->nid = hpa_reserved_1g_node();
		if (self->nid < 0)
			SKIP(return, HPA_NO_1G_RESERVED);
	}
	HPA_POOLS_SNAPSHOT(self);
}

FIXTURE_TEARDOWN(pool)
{
	if (self->fd >= 0)
		close(self->fd);
	HPA_EXPECT_POOLS_BACK(self);
}

static int t_alloc(int fd, int nid, size_t ps, uint64_t size, uint64_t *off)
{
	struct hpalloc_alloc a;
	int ret;

	ret = dev_alloc_full(fd, size, ps,
			     nid < 0 ? HPALLOC_POLICY_LOCAL : HPALLOC_POLICY_BIND,
			     nid < 0 ? 0 : 1ULL << nid, 0, &a);
	if (!ret && off)
		*off = a.offset;
	return ret;
}

#define T_ALLOC(size, off) t_alloc(self->fd, self->nid, variant->page_size, \
				   size, off)
#define T_POLICY (self->nid < 0 ? HPALLOC_POLICY_LOCAL : HPALLOC_POLICY_BIND)
#define T_MASK (self->nid < 0 ? 0 : 1ULL << self->nid)

static void *map_buf(int fd, uint64_t off, size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
}


/* Buffers go back through a worker: wait until the pool has n free. */
static void wait_free(int nid, int ps, long n)
{
	long end = hpa_now_ms() + 30000;

	while (hpa_pool_read(nid, ps, "free") < n && hpa_now_ms() < end)
		usleep(20000);
}

TEST_F(pool, version_handshake)
{
	struct hpalloc_version v = { .flags = 1 };

	EXPECT_EQ(HPALLOC_API_VERSION, self->v.api);
	EXPECT_EQ(0x1fULL, self->v.ioctls);
	EXPECT_TRUE(self->v.page_sizes & HPALLOC_PAGE_SIZE_2M);
	EXPECT_TRUE(self->v.features & HPALLOC_FEAT_PMD);
	EXPECT_LE(1, self->v.nr_node_ids);
	EXPECT_EQ(-EINVAL, hpa_ioctl(self->fd, HPALLOC_IOC_VERSION, &v));
}

/* One fault per page, page-size aligned, zero, KernelPageSize right. */
TEST_F(pool, map_one_fault_per_page)
{
	size_t ps = variant->page_size, len = variant->nr * ps, i;
	struct hpalloc_alloc a;
	long flt;
	char *p;

	ASSERT_EQ(0, dev_alloc_full(self->fd, len - 4096, ps, T_POLICY,
				    T_MASK, 0, &a));
	EXPECT_EQ(len, a.alloc_size);
	EXPECT_EQ(variant->nr, a.nr_pages);
	EXPECT_EQ(0, a.offset & ((1ULL << HPALLOC_HANDLE_SHIFT) - 1));
	p = map_buf(self->fd, a.offset, len);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, (uintptr_t)p % ps);
	flt = hpa_minflt();
	for (i = 0; i < len; i += 4096) {
		if (*(volatile uint64_t *)(p + i) != 0) {
			ASSERT_EQ(0, *(uint64_t *)(p + i))
				TH_LOG("byte %zu not zero", i);
		}
		p[i] = 1;
	}
	EXPECT_EQ(variant->nr, hpa_minflt() - flt);
	EXPECT_EQ((long)(ps >> 10), hpa_smaps_kernel_page_kb(p));
	EXPECT_EQ(0, munmap(p, len));
	EXPECT_EQ(0, dev_free(self->fd, a.offset));
}

/* The contiguous flag: physical addresses one range, from outside too. */
TEST_F(pool, contig_buffer_is_contiguous)
{
	size_t ps = variant->page_size;
	unsigned int n = variant->ps ? 1 : 4, i;
	struct hpalloc_page_info pi[4];
	struct hpalloc_query q;
	struct hpalloc_alloc a;
	char *p;

	ASSERT_EQ(0, dev_alloc_full(self->fd, n * ps, ps, T_POLICY, T_MASK,
				    HPALLOC_ALLOC_CONTIG, &a));
	ASSERT_EQ(0, hpa_query(self->fd, a.offset, HPALLOC_QUERY_PHYS, pi, n,
			       &q));
	EXPECT_EQ(n, q.nr_filled);
	EXPECT_TRUE(q.out_flags & HPALLOC_BUF_CONTIG);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(pi[0].phys + i * ps, pi[i].phys);
		EXPECT_EQ(0, pi[i].phys % ps);
	}
	p = map_buf(self->fd, a.offset, n * ps);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < n; i++) {
		uint64_t seen;

		p[i * ps] = 1;
		/* pagemap shows nothing for a VM_PFNMAP (unpinnable) vma */
		seen = hpa_pagemap_phys(p + i * ps);
		if (seen)
			EXPECT_EQ(pi[i].phys, seen);
	}
	EXPECT_EQ(0, munmap(p, n * ps));
	EXPECT_EQ(0, dev_free(self->fd, a.offset));
}

/* BIND to each node with memory; INTERLEAVE over all of them. */
TEST_F(pool, placement_by_node_ranges)
{
	size_t ps = variant->page_size;
	struct hpalloc_page_info pi[8];
	uint64_t mask = 0;
	int nid, n = 0, i;

	if (!hpa_memory_block_size())
		SKIP(return, "no memory block info in sysfs");
	for (nid = 0; nid < 8; nid++) {
		struct hpalloc_alloc a;

		if (!node_has_memory(nid))
			continue;
		mask |= 1ULL << nid;
		n++;
		if (variant->ps && nid != self->nid)
			continue;	/* 1 GiB is slow under TCG: one node */
		ASSERT_EQ(0, dev_alloc_full(self->fd, ps, ps,
					    HPALLOC_POLICY_BIND, 1ULL << nid,
					    0, &a)) TH_LOG("node %d", nid);
		EXPECT_EQ(1ULL << nid, a.nodes);
		ASSERT_EQ(1, hpa_buf_phys(self->fd, a.offset, 0) != 0);
		EXPECT_EQ(nid, hpa_node_of_phys(hpa_buf_phys(self->fd,
							     a.offset, 0)));
		EXPECT_EQ(0, dev_free(self->fd, a.offset));
	}
	if (variant->ps || n < 2)
		return;
	{
		struct hpalloc_alloc a;
		struct hpalloc_query q;
		int want[8], k = 0;

		for (nid = 0; nid < 8; nid++)
			if (mask & (1ULL << nid))
				want[k++] = nid;
		ASSERT_EQ(0, dev_alloc_full(self->fd, 2 * n * ps, ps,
					    HPALLOC_POLICY_INTERLEAVE, mask, 0,
					    &a));
		EXPECT_EQ(mask, a.nodes);
		ASSERT_EQ(0, hpa_query(self->fd, a.offset, HPALLOC_QUERY_PHYS,
				       pi, 2 * n, &q));
		for (i = 0; i < 2 * n; i++) {
			EXPECT_EQ(want[i % n], pi[i].node);
			EXPECT_EQ(want[i % n], hpa_node_of_phys(pi[i].phys));
		}
		EXPECT_EQ(0, dev_free(self->fd, a.offset));
	}
}

TEST_F(pool, bad_ioctl_arguments)
{
	size_t ps = variant->page_size;
	struct hpalloc_alloc a;
	struct hpalloc_free f = { .offset = 1ULL << HPALLOC_HANDLE_SHIFT };
	struct hpalloc_query q = { .offset = 5ULL << HPALLOC_HANDLE_SHIFT };
	char junk[64] = { 0 };

	EXPECT_EQ(-EINVAL, dev_alloc_full(self->fd, ps, ps, 0, 0, 0x80, &a));
	EXPECT_EQ(-EINVAL, dev_alloc_full(self->fd, ps, 4096, 0, 0, 0, &a));
	EXPECT_EQ(-EINVAL, dev_alloc_full(self->fd, 0, ps, 0, 0, 0, &a));
	EXPECT_EQ(-EINVAL, dev_alloc_full(self->fd, ps, ps, 99, 0, 0, &a));
	EXPECT_EQ(-EINVAL, dev_alloc_full(self->fd, ps, ps, 0, 1, 0, &a));
	EXPECT_EQ(-EINVAL, dev_alloc_full(self->fd, ps, ps,
					  HPALLOC_POLICY_BIND, 0, 0, &a));
	EXPECT_EQ(-EINVAL, dev_alloc_full(self->fd, ps, ps,
					  HPALLOC_POLICY_BIND, 1ULL << 63, 0,
					  &a));
	EXPECT_EQ(-EINVAL, dev_alloc_full(self->fd, 1ULL << 62, ps, 0, 0, 0,
					  &a));
	EXPECT_EQ(-ENOENT, hpa_ioctl(self->fd, HPALLOC_IOC_FREE, &f));
	f.offset = 4096;
	EXPECT_EQ(-EINVAL, hpa_ioctl(self->fd, HPALLOC_IOC_FREE, &f));
	EXPECT_EQ(-ENOENT, hpa_ioctl(self->fd, HPALLOC_IOC_QUERY, &q));
	q.reserved_in = 1;
	EXPECT_EQ(-EINVAL, hpa_ioctl(self->fd, HPALLOC_IOC_QUERY, &q));
	EXPECT_EQ(-ENOTTY, hpa_ioctl(self->fd, _IOWR(HPALLOC_IOC_MAGIC, 0x3f,
						     struct hpalloc_alloc),
				     junk));
	EXPECT_EQ(-ENOTTY, hpa_ioctl(self->fd, _IOWR('x', 1,
						     struct hpalloc_alloc),
				     junk));
	EXPECT_EQ(-ENOTTY, hpa_ioctl(self->fd, _IOR(HPALLOC_IOC_MAGIC, 1,
						    struct hpalloc_alloc),
				     junk));
	EXPECT_EQ(-EFAULT, hpa_ioctl(self->fd, HPALLOC_IOC_ALLOC, NULL));
}

/* An older, smaller struct works; a newer one must have a zero tail. */
TEST_F(pool, abi_struct_sizes)
{
	size_t ps = variant->page_size;
	struct {
		struct hpalloc_alloc a;
		uint64_t more[2];
	} big = { .a = { .size = ps, .page_size = ps, .policy = T_POLICY,
			 .nodemask = T_MASK } };
	unsigned int small = offsetof(struct hpalloc_alloc, alloc_size);
	struct hpalloc_alloc a = { .size = ps, .page_size = ps,
				   .policy = T_POLICY, .nodemask = T_MASK };
	unsigned long cmd;

	cmd = _IOC(_IOC_READ | _IOC_WRITE, HPALLOC_IOC_MAGIC, 1, small);
	ASSERT_EQ(0, hpa_ioctl(self->fd, cmd, &a));
	EXPECT_NE(0, a.offset);
	EXPECT_EQ(0, a.alloc_size);	/* not written: beyond the caller */
	EXPECT_EQ(0, dev_free(self->fd, a.offset));

	cmd = _IOC(_IOC_READ | _IOC_WRITE, HPALLOC_IOC_MAGIC, 1, sizeof(big));
	ASSERT_EQ(0, hpa_ioctl(self->fd, cmd, &big));
	EXPECT_EQ(ps, big.a.alloc_size);
	EXPECT_EQ(0, dev_free(self->fd, big.a.offset));
	memset(&big, 0, sizeof(big));
	big.a.size = ps;
	big.a.page_size = ps;
	big.more[1] = 1;
	EXPECT_EQ(-E2BIG, hpa_ioctl(self->fd, cmd, &big));

	cmd = _IOC(_IOC_READ | _IOC_WRITE, HPALLOC_IOC_MAGIC, 1, 16);
	EXPECT_EQ(-EINVAL, hpa_ioctl(self->fd, cmd, &a));
}

/* Physical addresses need CAP_SYS_RAWIO. */
TEST_F(pool, phys_needs_cap_sys_rawio)
{
	size_t ps = variant->page_size;
	uint64_t off;
	pid_t pid;
	int st;

	ASSERT_EQ(0, T_ALLOC(ps, &off));
	EXPECT_NE(0, hpa_buf_phys(self->fd, off, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct hpalloc_page_info pi;
		struct hpalloc_version v;

		if (hpa_drop_cap(CAP_SYS_RAWIO))
			_exit(10);
		if (hpa_query(self->fd, off, HPALLOC_QUERY_PHYS, &pi, 1,
			      NULL) != -EPERM)
			_exit(11);
		if (hpa_query(self->fd, off, 0, &pi, 1, NULL) || pi.phys)
			_exit(12);
		if (hpa_version(self->fd, &v) ||
		    (v.features & HPALLOC_FEAT_PHYS))
			_exit(13);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, WEXITSTATUS(st));
	EXPECT_EQ(0, dev_free(self->fd, off));
}

/* A handle is private to its open file. */
TEST_F(pool, handle_scoped_to_open_file)
{
	size_t ps = variant->page_size;
	int fd2 = open("/dev/hpalloc", O_RDWR);
	uint64_t off;
	void *p;

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, T_ALLOC(ps, &off));
	p = map_buf(fd2, off, ps);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENXIO, errno);
	p = map_buf(self->fd, off + ps, ps);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENXIO, errno);
	close(fd2);
	EXPECT_EQ(0, dev_free(self->fd, off));
}

/* The buffer lives while mapped after FREE and after close(). */
TEST_F(pool, buffer_outlives_handle_and_fd)
{
	size_t ps = variant->page_size;
	uint64_t off;
	char *p;

	ASSERT_EQ(0, T_ALLOC(ps, &off));
	p = map_buf(self->fd, off, ps);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x5a, 4096);
	EXPECT_EQ(0, dev_free(self->fd, off));
	EXPECT_EQ(-ENOENT, dev_free(self->fd, off));
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(0x5a, p[4095]);
	EXPECT_EQ(0, munmap(p, ps));
}

/* Partial munmap at page boundaries works, inside a page it is refused. */
TEST_F(pool, munmap_mremap_mprotect_madvise)
{
	size_t ps = variant->page_size;
	unsigned int n = variant->ps ? 1 : 3;
	uint64_t off;
	char *p, *q;
	int ret;

	ASSERT_EQ(0, T_ALLOC(n * ps, &off));
	p = map_buf(self->fd, off, n * ps);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 7, 4096);
	EXPECT_EQ(-1, munmap(p + 4096, 4096));
	EXPECT_EQ(EINVAL, errno);
	q = mremap(p, n * ps, (n + 1) * ps, 0);
	EXPECT_EQ(MAP_FAILED, q);
	ret = mprotect(p, ps, PROT_READ);
	if (ret)
		EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, mprotect(p, ps, PROT_READ | PROT_EXEC));
	ret = madvise(p, ps, MADV_DONTNEED);
	if (ret)
		EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(7, p[0]);	/* a shared page keeps its data */
	if (n == 3) {
		EXPECT_EQ(0, munmap(p + ps, ps));
		p[2 * ps] = 1;
		EXPECT_EQ(0, munmap(p + 2 * ps, ps));
		n = 1;
	}
	EXPECT_EQ(0, munmap(p, n * ps));
	EXPECT_EQ(0, dev_free(self->fd, off));
}

/* A child killed while it holds mappings gives everything back. */
TEST_F(pool, sigkilled_child_leaks_nothing)
{
	size_t ps = variant->page_size;
	int pipefd[2], st;
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint64_t off;
		char *p;

		if (T_ALLOC(ps, &off))
			_exit(1);
		p = map_buf(self->fd, off, ps);
		if (p == MAP_FAILED)
			_exit(2);
		p[0] = 1;
		p = map_buf(self->fd, 0, SZ_2M);
		if (p == MAP_FAILED)
			_exit(3);
		p[0] = 1;
		if (write(pipefd[1], "x", 1) != 1)
			_exit(4);
		pause();
		_exit(0);
	}
	ASSERT_EQ(1, read(pipefd[0], &c, 1));
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFSIGNALED(st));
	close(pipefd[0]);
	close(pipefd[1]);
}

/* Fork, then the parent side goes first: the child's mapping still works. */
TEST_F(pool, fork_then_parent_unmaps)
{
	size_t ps = variant->page_size;
	uint64_t off;
	char *p;
	pid_t pid;
	int st;

	ASSERT_EQ(0, T_ALLOC(ps, &off));
	p = map_buf(self->fd, off, ps);
	ASSERT_NE(MAP_FAILED, p);
	p[100] = 42;
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		usleep(200000);
		_exit(p[100] == 42 && (p[ps - 1] = 3) == 3 ? 0 : 1);
	}
	EXPECT_EQ(0, munmap(p, ps));
	EXPECT_EQ(0, dev_free(self->fd, off));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, WEXITSTATUS(st));
}

/* Random ioctls: no crash, no leak, sane errors. */
TEST_F(pool, random_ioctl_fuzz)
{
	unsigned int seed = 1234, i;
	uint64_t buf[64];

	if (variant->ps)
		SKIP(return, "one page size is enough");
	for (i = 0; i < 3000; i++) {
		unsigned int dir = rand_r(&seed) % 4;
		unsigned int nr = rand_r(&seed) % 6;
		unsigned int size = rand_r(&seed) % 130;
		unsigned int j;
		int ret;

		for (j = 0; j < 64; j++)
			buf[j] = (uint64_t)rand_r(&seed) << 32 | rand_r(&seed);
		/* keep the sizes small enough to be allocated quickly */
		if (rand_r(&seed) % 2) {
			buf[0] &= (16ULL << 20) - 1;
			buf[1] &= 0x0000000100000001ULL;
			buf[1] &= ~1ULL;
			buf[2] &= 3;
			buf[3] &= 7;
		}
		ret = hpa_ioctl(self->fd, _IOC(dir, HPALLOC_IOC_MAGIC, nr,
					       size), buf);
		if (ret && ret != -EINVAL && ret != -ENOTTY &&
		    ret != -E2BIG && ret != -ENOENT && ret != -ENOMEM &&
		    ret != -EFAULT && ret != -EPERM && ret != -EOPNOTSUPP) {
			ASSERT_EQ(0, ret) TH_LOG("call %u: nr %u size %u", i,
						 nr, size);
		}
	}
	close(self->fd);
	self->fd = -1;
}

struct thread_arg {
	int fd;
	size_t ps;
	int errors;
};

static void *alloc_free_thread(void *p)
{
	struct thread_arg *t = p;
	int i;

	for (i = 0; i < 40; i++) {
		uint64_t off;
		char *m;

		if (dev_alloc(t->fd, t->ps, t->ps, &off)) {
			t->errors++;
			continue;
		}
		m = map_buf(t->fd, off, t->ps);
		if (m == MAP_FAILED) {
			t->errors++;
		} else {
			m[i] = 1;
			munmap(m, t->ps);
		}
		if (dev_free(t->fd, off))
			t->errors++;
	}
	return NULL;
}

TEST_F(pool, threads_alloc_and_free)
{
	struct thread_arg t[4];
	pthread_t th[4];
	int i;

	if (variant->ps)
		SKIP(return, "1 GiB pages are too slow to churn under TCG");
	for (i = 0; i < 4; i++) {
		t[i] = (struct thread_arg){ .fd = self->fd,
					    .ps = variant->page_size };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, alloc_free_thread,
					    &t[i]));
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ(0, t[i].errors);
	}
}

/* Without overcommit an empty pool says ENOMEM, and recovers. */
TEST_F(pool, exhaustion_then_recovery)
{
	size_t ps = variant->page_size;
	int nid = hpa_cpu_node(), ps_i = variant->ps;
	long target0 = hpa_pool_read(nid, ps_i, "target");
	long min0 = hpa_pool_read(nid, ps_i, "min");
	uint64_t bind = 1ULL << nid, off;
	int ret;

	if (variant->ps)
		SKIP(return, "2 MiB pages show it faster");
	ASSERT_LE(0, target0);
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "min", target0 + 2));
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "target", target0 + 2));
	ASSERT_EQ(target0 + 2, hpa_pool_read(nid, ps_i, "target"));
	ASSERT_EQ(0, hpa_set_overcommit(false));
	ret = dev_alloc_full(self->fd, (target0 + 3) * ps, ps,
			     HPALLOC_POLICY_BIND, bind, 0, NULL);
	EXPECT_EQ(-ENOMEM, ret);
	ret = dev_alloc_full(self->fd, (target0 + 2) * ps, ps,
			     HPALLOC_POLICY_BIND, bind, 0, NULL);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(-ENOMEM, dev_alloc_full(self->fd, ps, ps,
					  HPALLOC_POLICY_BIND, bind, 0, NULL));
	ASSERT_EQ(0, hpa_set_overcommit(true));
	/* close frees them all; the pool is usable again */
	close(self->fd);
	wait_free(nid, ps_i, target0 + 2);
	self->fd = open("/dev/hpalloc", O_RDWR);
	ASSERT_LE(0, self->fd);
	hpa_set_overcommit(false);
	ret = dev_alloc_full(self->fd, (target0 + 2) * ps, ps,
			     HPALLOC_POLICY_BIND, bind, 0, NULL);
	hpa_set_overcommit(true);
	EXPECT_EQ(0, ret) TH_LOG("node%d: free %ld in_use %ld zeroing %ld target %ld failures %ld",
				 nid, hpa_pool_read(nid, ps_i, "free"),
				 hpa_pool_read(nid, ps_i, "in_use"),
				 hpa_pool_read(nid, ps_i, "zeroing"),
				 hpa_pool_read(nid, ps_i, "target"),
				 hpa_pool_read(nid, ps_i, "failures"));
	close(self->fd);
	self->fd = -1;
	wait_free(nid, ps_i, target0 + 2);
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "target", target0));
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "min", min0));
	(void)off;
}

/* Shrinking while pages are in use takes only free ones. */
TEST_F(pool, shrink_while_in_use)
{
	size_t ps = variant->page_size;
	int nid = hpa_cpu_node(), ps_i = variant->ps;
	long target0 = hpa_pool_read(nid, ps_i, "target");
	struct hpalloc_alloc a;
	char *p;

	if (variant->ps)
		SKIP(return, "2 MiB pages show it faster");
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "target", target0 + 2));
	ASSERT_EQ(0, dev_alloc_full(self->fd, ps, ps, HPALLOC_POLICY_BIND,
				    1ULL << nid, 0, &a));
	p = map_buf(self->fd, a.offset, ps);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 9;
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "target", 0));
	EXPECT_EQ(0, hpa_pool_read(nid, ps_i, "free"));
	EXPECT_LE(1, hpa_pool_read(nid, ps_i, "in_use"));
	EXPECT_EQ(9, p[0]);
	EXPECT_EQ(0, munmap(p, ps));
	close(self->fd);
	self->fd = -1;
	for (int i = 0; i < 1500 && hpa_pool_read(nid, ps_i, "in_use"); i++)
		usleep(20000);
	EXPECT_EQ(0, hpa_pool_read(nid, ps_i, "in_use"));
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "target", target0));
}

/* What one owner wrote is never seen by the next. */
TEST_F(pool, recycled_pages_are_zero)
{
	size_t ps = variant->page_size, len, i;
	int nid = self->nid < 0 ? hpa_cpu_node() : self->nid;
	int ps_i = variant->ps;
	long target0 = hpa_pool_read(nid, ps_i, "target");
	long min0 = hpa_pool_read(nid, ps_i, "min");
	/* 1 GiB: the reserved pages; a second GiB is luck */
	unsigned int n = variant->ps ? 0 : 4;
	uint64_t bind = 1ULL << nid;
	struct hpalloc_alloc a;
	uint64_t *p;

	ASSERT_LT(0, target0 + n);
	len = n * ps;
	/* the shrinker must not take the pages we look at */
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "min", target0 + n));
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "target", target0 + n));
	ASSERT_EQ(0, hpa_set_overcommit(false));
	ASSERT_EQ(0, dev_alloc_full(self->fd, (target0 + n) * ps, ps,
				    HPALLOC_POLICY_BIND, bind, 0, &a));
	hpa_set_overcommit(true);
	p = map_buf(self->fd, a.offset, (target0 + n) * ps);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < (target0 + n) * ps / 8; i += 512)
		p[i] = 0xdeadbeefcafef00dULL;
	EXPECT_EQ(0, munmap(p, (target0 + n) * ps));
	EXPECT_EQ(0, dev_free(self->fd, a.offset));
	wait_free(nid, ps_i, target0 + n);
	EXPECT_EQ(target0 + n, hpa_pool_read(nid, ps_i, "free"));
	ASSERT_EQ(0, hpa_set_overcommit(false));
	ASSERT_EQ(0, dev_alloc_full(self->fd, (target0 + n) * ps, ps,
				    HPALLOC_POLICY_BIND, bind, 0, &a));
	hpa_set_overcommit(true);
	p = map_buf(self->fd, a.offset, (target0 + n) * ps);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < (target0 + n) * ps / 8; i += 512)
		if (p[i]) {
			ASSERT_EQ(0, p[i]) TH_LOG("word %zu", i);
		}
	EXPECT_EQ(0, munmap(p, (target0 + n) * ps));
	EXPECT_EQ(0, dev_free(self->fd, a.offset));
	wait_free(nid, ps_i, target0 + n);
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "target", target0));
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "min", min0));
	(void)len;
}

/* RLIMIT_MEMLOCK bounds what a process without CAP_IPC_LOCK gets. */
TEST_F(pool, memlock_limit)
{
	size_t ps = variant->page_size;
	pid_t pid;
	int st;

	if (variant->ps)
		SKIP(return, "2 MiB pages show it faster");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct rlimit rl = { 3 * SZ_2M, 3 * SZ_2M };
		struct hpalloc_alloc ra = {
			.size = 2 * ps,
			.page_size = variant->page_size,
			.policy = T_POLICY,
			.nodemask = T_MASK,
		};
		uint64_t a, b;
		void *p, *ro;

		if (hpa_drop_cap(CAP_IPC_LOCK) || setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(10);
		if (T_ALLOC(2 * ps, &a))
			_exit(11);
		if (T_ALLOC(2 * ps, &b) != -ENOMEM)
			_exit(12);
		p = map_buf(self->fd, 0, 2 * ps);
		if (p != MAP_FAILED || errno != ENOMEM)
			_exit(13);
		/* FREE of an unmapped buffer uncharges before it returns */
		if (dev_free(self->fd, a))
			_exit(14);
		if (T_ALLOC(2 * ps, &b))
			_exit(15);
		/*
		 * An ALLOC whose answer cannot be written back undoes its
		 * buffer before it returns: the retry right after fits.
		 */
		if (dev_free(self->fd, b))
			_exit(16);
		ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ro == MAP_FAILED)
			_exit(17);
		memcpy(ro, &ra, sizeof(ra));
		if (mprotect(ro, 4096, PROT_READ) ||
		    hpa_ioctl(self->fd, HPALLOC_IOC_ALLOC, ro) != -EFAULT)
			_exit(18);
		if (T_ALLOC(2 * ps, &b))
			_exit(19);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, WEXITSTATUS(st));
}

/* O_DIRECT into a buffer: the right bytes, or EFAULT; nothing leaks. */
TEST_F(pool, o_direct_read_into_buffer)
{
	size_t ps = variant->page_size, len = SZ_2M, i;
	uint64_t off, *p;
	ssize_t n;
	int fd;

	fd = open("/mnt/disk/pattern", O_RDONLY | O_DIRECT);
	if (fd < 0)
		SKIP(return, "no /mnt/disk/pattern for O_DIRECT");
	ASSERT_EQ(0, T_ALLOC(ps, &off));
	p = map_buf(self->fd, off, ps);
	ASSERT_NE(MAP_FAILED, p);
	n = pread(fd, p, len, 4 * SZ_2M);
	if (n < 0) {
		EXPECT_EQ(EFAULT, errno);
		TH_LOG("O_DIRECT into %zu kB pages: EFAULT", ps >> 10);
	} else {
		EXPECT_EQ((ssize_t)len, n);
		for (i = 0; i < len / 8; i++)
			if (p[i] != 4 * SZ_2M + i * 8) {
				ASSERT_EQ(4 * SZ_2M + i * 8, p[i]);
			}
		TH_LOG("O_DIRECT into %zu kB pages: works", ps >> 10);
	}
	close(fd);
	EXPECT_EQ(0, munmap(p, ps));
	EXPECT_EQ(0, dev_free(self->fd, off));
}

/*
 * The shrinker, run on demand: "echo 2 > /proc/sys/vm/drop_caches" calls
 * every shrinker on every node.  A pool grown above its min gives back its
 * free pages down to min; pages in use keep their data.
 */
TEST(shrinker_releases_free_pages_above_min)
{
	long total0, free0, in_use0, min0, target0, released0;
	int nid = hpa_cpu_node(), fd, dc;
	struct hpa_pools start;
	struct hpalloc_alloc a;
	char msg[160] = "";
	uint64_t *p;
	size_t i;

	fd = open("/dev/hpalloc", O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/hpalloc is missing: module not loaded");
	ASSERT_LE(0, fd);
	dc = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (dc < 0)
		SKIP(return, "cannot write drop_caches: %s", strerror(errno));
	ASSERT_LE(0, nid);
	hpa_pools_quiesce(20000);
	ASSERT_LT(0, hpa_pools_read(&start));
	min0 = hpa_pool_read(nid, 0, "min");
	target0 = hpa_pool_read(nid, 0, "target");

	/* a page in use, with data */
	ASSERT_EQ(0, dev_alloc_full(fd, SZ_2M, 0, HPALLOC_POLICY_BIND,
				    1ULL << nid, 0, &a));
	p = map_buf(fd, a.offset, SZ_2M);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < SZ_2M / 8; i++)
		p[i] = i * 0x9e3779b97f4a7c15ULL;

	/* grow three pages above a min one page above what is there */
	total0 = hpa_pool_read(nid, 0, "total");
	ASSERT_EQ(0, hpa_pool_write(nid, 0, "min", total0 + 1));
	ASSERT_EQ(0, hpa_pool_write(nid, 0, "target", total0 + 4));
	ASSERT_EQ(total0 + 4, hpa_pool_read(nid, 0, "total"));
	free0 = hpa_pool_read(nid, 0, "free");
	in_use0 = hpa_pool_read(nid, 0, "in_use");
	released0 = hpa_pool_read(nid, 0, "shrinker_released");

	ASSERT_EQ(2, write(dc, "2\n", 2));

	EXPECT_EQ(total0 + 1, hpa_pool_read(nid, 0, "total"));
	EXPECT_EQ(free0 - 3, hpa_pool_read(nid, 0, "free"));
	EXPECT_EQ(in_use0, hpa_pool_read(nid, 0, "in_use"));
	EXPECT_EQ(0, hpa_pool_read(nid, 0, "zeroing"));
	EXPECT_EQ(released0 + 3, hpa_pool_read(nid, 0, "shrinker_released"));
	EXPECT_EQ(total0 + 1, hpa_pool_read(nid, 0, "target"));
	/* and not below min, however often it runs */
	ASSERT_EQ(2, write(dc, "2\n", 2));
	EXPECT_EQ(total0 + 1, hpa_pool_read(nid, 0, "total"));
	EXPECT_EQ(released0 + 3, hpa_pool_read(nid, 0, "shrinker_released"));

	for (i = 0; i < SZ_2M / 8; i++)
		if (p[i] != i * 0x9e3779b97f4a7c15ULL) {
			ASSERT_EQ(i * 0x9e3779b97f4a7c15ULL, p[i])
				TH_LOG("word %zu of the page in use", i);
		}
	EXPECT_EQ(0, munmap(p, SZ_2M));
	EXPECT_EQ(0, dev_free(fd, a.offset));
	close(fd);
	close(dc);
	EXPECT_EQ(0, hpa_pool_write(nid, 0, "min", min0));
	EXPECT_EQ(0, hpa_pool_write(nid, 0, "target", target0));
	EXPECT_TRUE(hpa_pools_settle(&start, 20000, msg, sizeof(msg)))
		TH_LOG("pool counters not back: %s", msg);
}

TEST_HARNESS_MAIN
