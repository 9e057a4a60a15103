// SPDX-License-Identifier: GPL-2.0
/*
 * hpalloc issue 8: 2 MiB <-> 1 GiB conversion inside a node's pools.  A
 * free 1 GiB page splits into 512 pages of the node's 2 MiB pool (asked by
 * an administrator through sysfs, or when a 2 MiB take finds nothing
 * else), and 512 free 2 MiB pages of one aligned GiB merge back into a
 * 1 GiB page.  Checked from outside: pool totals and counters, physical
 * addresses, bytes read back, fault counts, and that a split and merge of
 * clean pages zeroes nothing.  Uses the 1 GiB page reserved at load
 * (pages_1g=NODE:1) and puts every setting back.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "hpa_util.h"
#include "hpa_test_pool.h"

#define PIECES	512

/* What a conversion moves, on the node under test. */
struct conv_counts {
	long total_1g, free_1g, zeroed_1g, target_1g;
	long total_2m, free_2m, zeroed_2m, target_2m;
	long split, merged, dirty, lost;
};

static void conv_read(int nid, struct conv_counts *c)
{
	c->total_1g = hpa_pool_read(nid, 1, "total");
	c->free_1g = hpa_pool_read(nid, 1, "free");
	c->zeroed_1g = hpa_pool_read(nid, 1, "zeroed");
	c->target_1g = hpa_pool_read(nid, 1, "target");
	c->total_2m = hpa_pool_read(nid, 0, "total");
	c->free_2m = hpa_pool_read(nid, 0, "free");
	c->zeroed_2m = hpa_pool_read(nid, 0, "zeroed");
	c->target_2m = hpa_pool_read(nid, 0, "target");
	c->split = hpa_pool_read(nid, 1, "split");
	c->merged = hpa_pool_read(nid, 1, "merged");
	c->dirty = hpa_pool_read(nid, 1, "convert_dirty");
	c->lost = hpa_pool_read(nid, 1, "convert_lost");
}

/* Write a string to a pool file; 0 or -errno. */
static int pool_write_str(int nid, int ps, const char *file, const char *s)
{
	char path[128];
	ssize_t n;
	int fd, ret = 0;

	hpa_pool_path(path, sizeof(path), nid, ps, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		ret = -errno;
	close(fd);
	return ret;
}

FIXTURE(convert) {
	int fd;
	int nid;
	long min_1g, total_1g;
	struct conv_counts c0;
	struct hpa_pools pools0;
	bool have_pools;
};

FIXTURE_SETUP(convert)
{
	struct hpalloc_version v;

	self->fd = open("/dev/hpalloc", O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/hpalloc is missing: module not loaded");
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, hpa_version(self->fd, &v));
	if (!(v.page_sizes & HPALLOC_PAGE_SIZE_1G))
		SKIP(return, "1 GiB pages not offered (no pdpe1gb?)");
	self->nid = hpa_reserved_1g_node();
	if (self->nid < 0)
		SKIP(return, HPA_NO_1G_RESERVED);
	HPA_POOLS_SNAPSHOT(self);
	self->min_1g = hpa_pool_read(self->nid, 1, "min");
	self->total_1g = hpa_pool_read(self->nid, 1, "total");
	if (hpa_pool_read(self->nid, 1, "free") < 1)
		SKIP(return, "node%d's reserved 1 GiB page is in use",
		     self->nid);
	if (hpa_pool_read(self->nid, 1, "split") < 0)
		SKIP(return, "module without 1 GiB conversion (no split file)");
	/* only pages above min convert: the reserved one, for the test */
	ASSERT_EQ(0, hpa_pool_write(self->nid, 1, "min", self->min_1g - 1));
	conv_read(self->nid, &self->c0);
}

/* A buffer's HPALLOC_BUF_* flags, -1 when the query fails. */
static long buf_flags(int fd, uint64_t offset)
{
	struct hpalloc_query q;

	if (hpa_query(fd, offset, 0, NULL, 0, &q))
		return -1;
	return q.out_flags;
}

/* Wait for the node's 2 MiB pool to have n free (freed pages are zeroed). */
static void wait_free_2m(int nid, long n)
{
	long end = hpa_now_ms() + 30000;

	while (hpa_pool_read(nid, 0, "free") < n && hpa_now_ms() < end)
		usleep(20000);
}

FIXTURE_TEARDOWN(convert)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->nid < 0 || !self->have_pools)
		return;
	hpa_set_overcommit(true);
	/* a test that failed half way: give the 1 GiB page back */
	hpa_pools_quiesce(30000);
	if (hpa_pool_read(self->nid, 1, "total") < self->total_1g)
		hpa_pool_write(self->nid, 1, "merge_pages", 1);
	hpa_pool_write(self->nid, 1, "min", self->min_1g);
	HPA_EXPECT_POOLS_BACK(self);
}

static int alloc_on(int fd, int nid, uint32_t ps, unsigned int nr,
		    struct hpalloc_alloc *a)
{
	return dev_alloc_full(fd, (uint64_t)nr * ps, ps, HPALLOC_POLICY_BIND,
			      1ULL << nid, 0, a);
}

/* Map a buffer, check it reads zero with one fault per page, write it. */
static int touch_buffer(int fd, const struct hpalloc_alloc *a, uint32_t ps,
			long *faults, long *page_kb)
{
	size_t len = a->alloc_size, i;
	int ret = 0;
	long flt;
	char *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, a->offset);
	if (p == MAP_FAILED)
		return -errno;
	flt = hpa_minflt();
	for (i = 0; i < len; i += 4096) {
		if (*(volatile uint64_t *)(p + i))
			ret = -EIO;
		p[i] = 1;
	}
	*faults = hpa_minflt() - flt;
	*page_kb = hpa_smaps_kernel_page_kb(p);
	munmap(p, len);
	(void)ps;
	return ret;
}

/*
 * O_DIRECT into a 2 MiB buffer: GUP needs compound pages.  A piece of a
 * 1 GiB page of order-0 pages (before 6.9) is not one, and the read gets
 * EFAULT; a piece taken back as a 2 MiB folio (6.9+) takes the read.
 * 0 when it behaves so, 1 when it does not, 2 without the pattern file.
 */
static int o_direct_as_expected(int fd, const struct hpalloc_alloc *a)
{
	bool pinnable = !hpa_kernel_before(6, 9);
	int ret = 0, file = open("/mnt/disk/pattern", O_RDONLY | O_DIRECT);
	uint64_t *p;
	ssize_t n;
	size_t i;

	if (file < 0)
		return 2;
	p = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 a->offset);
	if (p == MAP_FAILED) {
		close(file);
		return 1;
	}
	n = pread(file, p, SZ_2M, 4 * SZ_2M);
	if (!pinnable) {
		ret = !(n < 0 && errno == EFAULT);
	} else if (n != (ssize_t)SZ_2M) {
		ret = 1;
	} else {
		for (i = 0; i < SZ_2M / 8; i++)
			if (p[i] != 4 * SZ_2M + i * 8)
				ret = 1;
	}
	munmap(p, SZ_2M);
	close(file);
	return ret;
}

/*
 * An administrator splits the reserved 1 GiB page and merges it back; a
 * 2 MiB buffer from the pieces works as any; no clean page is zeroed.
 */
TEST_F(convert, admin_split_then_merge)
{
	struct conv_counts c0, c1, c2, c3;
	uint64_t gib, phys;
	struct hpalloc_alloc a;
	long faults, kb, t;
	int nid = self->nid, ret;

	/* where the 1 GiB page lies, from outside */
	ASSERT_EQ(0, hpa_set_overcommit(false));
	ASSERT_EQ(0, alloc_on(self->fd, nid, HPALLOC_PAGE_SIZE_1G, 1, &a));
	gib = hpa_buf_phys(self->fd, a.offset, 0);
	ASSERT_NE(0, gib);
	ASSERT_EQ(0, dev_free(self->fd, a.offset));
	hpa_pools_quiesce(30000);
	ASSERT_EQ(self->c0.free_1g, hpa_pool_read(nid, 1, "free"));

	conv_read(nid, &c0);
	t = hpa_now_ms();
	ASSERT_EQ(0, hpa_pool_write(nid, 1, "split_pages", 1));
	TH_LOG("split of one 1 GiB page: %ld ms", hpa_now_ms() - t);
	conv_read(nid, &c1);
	EXPECT_EQ(c0.split + 1, c1.split);
	EXPECT_EQ(c0.total_1g - 1, c1.total_1g);
	EXPECT_EQ(c0.target_1g - 1, c1.target_1g);
	EXPECT_EQ(c0.total_2m + PIECES, c1.total_2m);
	EXPECT_EQ(c0.free_2m + PIECES, c1.free_2m);
	EXPECT_EQ(c0.target_2m + PIECES, c1.target_2m);
	EXPECT_EQ(c0.zeroed_1g, c1.zeroed_1g);
	EXPECT_EQ(c0.zeroed_2m, c1.zeroed_2m);
	EXPECT_EQ(c0.dirty, c1.dirty);
	EXPECT_EQ(c0.lost, c1.lost);

	/* a 2 MiB page of it: zero, one PMD fault, inside the GiB */
	ASSERT_EQ(0, alloc_on(self->fd, nid, HPALLOC_PAGE_SIZE_2M, 1, &a));
	phys = hpa_buf_phys(self->fd, a.offset, 0);
	EXPECT_LE(gib, phys);
	EXPECT_GT(gib + SZ_1G, phys);
	EXPECT_EQ(0, touch_buffer(self->fd, &a, HPALLOC_PAGE_SIZE_2M, &faults,
				  &kb));
	EXPECT_EQ(1, faults);
	EXPECT_EQ(2048, kb);
	ret = o_direct_as_expected(self->fd, &a);
	if (ret == 2)
		TH_LOG("no /mnt/disk/pattern: O_DIRECT not checked");
	else
		EXPECT_EQ(0, ret) TH_LOG("O_DIRECT into a split piece: %s",
					 hpa_kernel_before(6, 9) ?
					 "EFAULT expected" : "read expected");
	ASSERT_EQ(0, dev_free(self->fd, a.offset));
	wait_free_2m(nid, c1.free_2m);
	hpa_pools_quiesce(30000);
	conv_read(nid, &c2);
	EXPECT_EQ(c1.zeroed_2m + 1, c2.zeroed_2m);
	EXPECT_EQ(c1.free_2m, c2.free_2m);

	t = hpa_now_ms();
	ASSERT_EQ(0, hpa_pool_write(nid, 1, "merge_pages", 1));
	TH_LOG("merge of 512 2 MiB pages: %ld ms", hpa_now_ms() - t);
	conv_read(nid, &c3);
	EXPECT_EQ(c2.merged + 1, c3.merged);
	EXPECT_EQ(c2.total_1g + 1, c3.total_1g);
	EXPECT_EQ(c2.total_2m - PIECES, c3.total_2m);
	EXPECT_EQ(c0.target_2m, c3.target_2m);
	EXPECT_EQ(c0.target_1g, c3.target_1g);
	EXPECT_EQ(c2.zeroed_1g, c3.zeroed_1g);
	EXPECT_EQ(c2.zeroed_2m, c3.zeroed_2m);
	EXPECT_EQ(c0.dirty, c3.dirty)
		TH_LOG("the page allocator lent out and dirtied some of it");
	EXPECT_EQ(c0.lost, c3.lost);

	/* the same GiB again, zero */
	ASSERT_EQ(0, alloc_on(self->fd, nid, HPALLOC_PAGE_SIZE_1G, 1, &a));
	EXPECT_EQ(gib, hpa_buf_phys(self->fd, a.offset, 0));
	ASSERT_EQ(0, dev_free(self->fd, a.offset));
	hpa_set_overcommit(true);
}

/* The 2 MiB pool dry, overcommit off: a 2 MiB take splits the 1 GiB page. */
TEST_F(convert, auto_split_when_2m_pool_dry)
{
	struct conv_counts c0, c1;
	struct hpalloc_alloc a;
	int nid = self->nid;
	long nr, faults, kb;

	hpa_pools_quiesce(30000);
	conv_read(nid, &c0);
	nr = c0.free_2m;
	ASSERT_EQ(0, hpa_set_overcommit(false));
	/* with the 1 GiB page at min: the free 2 MiB pages, not one more */
	ASSERT_EQ(0, hpa_pool_write(nid, 1, "min", self->min_1g));
	EXPECT_EQ(-ENOMEM, alloc_on(self->fd, nid, HPALLOC_PAGE_SIZE_2M,
				    nr + 1, &a));
	EXPECT_EQ(c0.split, hpa_pool_read(nid, 1, "split"));
	ASSERT_EQ(0, hpa_pool_write(nid, 1, "min", self->min_1g - 1));
	ASSERT_EQ(0, alloc_on(self->fd, nid, HPALLOC_PAGE_SIZE_2M, nr + 1,
			      &a));
	conv_read(nid, &c1);
	EXPECT_EQ(c0.split + 1, c1.split);
	EXPECT_EQ(c0.total_1g - 1, c1.total_1g);
	EXPECT_EQ(c0.total_2m + PIECES, c1.total_2m);
	EXPECT_EQ(c0.free_2m + PIECES - nr - 1, c1.free_2m);
	EXPECT_EQ(c0.zeroed_2m, c1.zeroed_2m);
	EXPECT_EQ(0, touch_buffer(self->fd, &a, HPALLOC_PAGE_SIZE_2M, &faults,
				  &kb));
	EXPECT_EQ(nr + 1, faults);
	ASSERT_EQ(0, dev_free(self->fd, a.offset));
	wait_free_2m(nid, c0.free_2m + PIECES);
	hpa_pools_quiesce(30000);
	ASSERT_EQ(0, hpa_pool_write(nid, 1, "merge_pages", 1));
	EXPECT_EQ(c0.total_1g, hpa_pool_read(nid, 1, "total"));
	EXPECT_EQ(c0.total_2m, hpa_pool_read(nid, 0, "total"));
	hpa_set_overcommit(true);
}

/* The 1 GiB pool dry: a 1 GiB take merges a free GiB of 2 MiB pages. */
TEST_F(convert, auto_merge_when_1g_pool_dry)
{
	struct conv_counts c0, c1;
	struct hpalloc_alloc a;
	int nid = self->nid;
	long faults, kb;

	ASSERT_EQ(0, hpa_pool_write(nid, 1, "split_pages", 1));
	hpa_pools_quiesce(30000);
	conv_read(nid, &c0);
	ASSERT_EQ(0, c0.free_1g);
	ASSERT_EQ(0, hpa_set_overcommit(false));
	ASSERT_EQ(0, alloc_on(self->fd, nid, HPALLOC_PAGE_SIZE_1G, 1, &a));
	conv_read(nid, &c1);
	EXPECT_EQ(c0.merged + 1, c1.merged);
	EXPECT_EQ(c0.total_1g + 1, c1.total_1g);
	EXPECT_EQ(c0.total_2m - PIECES, c1.total_2m);
	EXPECT_EQ(c0.zeroed_1g, c1.zeroed_1g);
	EXPECT_EQ(c0.zeroed_2m, c1.zeroed_2m);
	EXPECT_EQ(0, touch_buffer(self->fd, &a, HPALLOC_PAGE_SIZE_1G, &faults,
				  &kb));
	EXPECT_EQ(1, faults);
	EXPECT_EQ(1048576, kb);
	ASSERT_EQ(0, dev_free(self->fd, a.offset));
	hpa_set_overcommit(true);
}

/*
 * Merge before scan: with overcommit on and no free 1 GiB page, a 1 GiB
 * take merges the free GiB of 2 MiB pages the node holds rather than
 * searching the node for a range (which migrates pages, or gives up the
 * pool's 2 MiB pages and zeroes the whole GiB).
 */
TEST_F(convert, merge_before_scan_on_1g_take)
{
	struct conv_counts c0, c1;
	struct hpalloc_alloc a;
	int nid = self->nid;
	long tried0, rel0, faults, kb;

	ASSERT_EQ(0, hpa_pool_write(nid, 1, "split_pages", 1));
	hpa_pools_quiesce(30000);
	conv_read(nid, &c0);
	ASSERT_EQ(0, c0.free_1g);
	tried0 = hpa_pool_read(nid, 1, "ranges_tried");
	rel0 = hpa_pool_read(nid, 0, "released_for_1g");
	ASSERT_EQ(0, hpa_set_overcommit(true));
	ASSERT_EQ(0, alloc_on(self->fd, nid, HPALLOC_PAGE_SIZE_1G, 1, &a));
	conv_read(nid, &c1);
	EXPECT_EQ(c0.merged + 1, c1.merged);
	EXPECT_EQ(tried0, hpa_pool_read(nid, 1, "ranges_tried"))
		TH_LOG("the take searched the node instead of merging");
	EXPECT_EQ(rel0, hpa_pool_read(nid, 0, "released_for_1g"));
	EXPECT_EQ(c0.total_2m - PIECES, c1.total_2m);
	EXPECT_EQ(c0.zeroed_1g, c1.zeroed_1g);
	EXPECT_EQ(0, touch_buffer(self->fd, &a, HPALLOC_PAGE_SIZE_1G, &faults,
				  &kb));
	EXPECT_EQ(1, faults);
	ASSERT_EQ(0, dev_free(self->fd, a.offset));
}

/* A CONTIG 1 GiB buffer with the 1 GiB pool dry merges, as a take does. */
TEST_F(convert, contig_1g_merges_when_1g_pool_dry)
{
	struct conv_counts c0, c1;
	struct hpalloc_alloc a;
	int nid = self->nid;

	ASSERT_EQ(0, hpa_pool_write(nid, 1, "split_pages", 1));
	hpa_pools_quiesce(30000);
	conv_read(nid, &c0);
	ASSERT_EQ(0, hpa_set_overcommit(false));
	ASSERT_EQ(0, dev_alloc_full(self->fd, SZ_1G, HPALLOC_PAGE_SIZE_1G,
				    HPALLOC_POLICY_BIND, 1ULL << nid,
				    HPALLOC_ALLOC_CONTIG, &a));
	conv_read(nid, &c1);
	EXPECT_EQ(c0.merged + 1, c1.merged);
	EXPECT_EQ(c0.total_1g + 1, c1.total_1g);
	EXPECT_EQ(c0.zeroed_1g, c1.zeroed_1g);
	EXPECT_EQ(HPALLOC_BUF_CONTIG, buf_flags(self->fd, a.offset));
	ASSERT_EQ(0, dev_free(self->fd, a.offset));
	hpa_set_overcommit(true);
}

/*
 * A CONTIG 2 MiB buffer with no run of free 2 MiB pages and overcommit
 * off splits the free 1 GiB page: its pieces are one physical range.
 */
TEST_F(convert, contig_2m_splits_when_2m_pool_has_no_run)
{
	struct conv_counts c0, c1;
	struct hpalloc_alloc a;
	uint64_t p0;
	unsigned int i, nr = 8;
	int nid = self->nid;

	hpa_pools_quiesce(30000);
	if (hpa_pool_read(nid, 0, "in_use"))
		SKIP(return, "node%d has 2 MiB pages in use", nid);
	/* no free 2 MiB page on the node: none can make a run */
	ASSERT_EQ(0, hpa_pool_write(nid, 0, "target", 0));
	conv_read(nid, &c0);
	ASSERT_EQ(0, c0.total_2m);
	ASSERT_EQ(0, hpa_set_overcommit(false));
	ASSERT_EQ(0, dev_alloc_full(self->fd, (uint64_t)nr * SZ_2M,
				    HPALLOC_PAGE_SIZE_2M, HPALLOC_POLICY_BIND,
				    1ULL << nid, HPALLOC_ALLOC_CONTIG, &a));
	conv_read(nid, &c1);
	EXPECT_EQ(c0.split + 1, c1.split);
	EXPECT_EQ(c0.total_1g - 1, c1.total_1g);
	EXPECT_EQ(PIECES, c1.total_2m);
	EXPECT_EQ(PIECES - nr, c1.free_2m);
	EXPECT_EQ(c0.zeroed_2m, c1.zeroed_2m);
	EXPECT_EQ(HPALLOC_BUF_CONTIG, buf_flags(self->fd, a.offset));
	p0 = hpa_buf_phys(self->fd, a.offset, 0);
	ASSERT_NE(0, p0);
	for (i = 1; i < nr; i++)
		EXPECT_EQ(p0 + (uint64_t)i * SZ_2M,
			  hpa_buf_phys(self->fd, a.offset, i));
	ASSERT_EQ(0, dev_free(self->fd, a.offset));
	wait_free_2m(nid, PIECES);
	hpa_pools_quiesce(30000);
	ASSERT_EQ(0, hpa_pool_write(nid, 1, "merge_pages", 1));
	EXPECT_EQ(c0.total_1g, hpa_pool_read(nid, 1, "total"));
	ASSERT_EQ(0, hpa_pool_write(nid, 0, "target", self->c0.target_2m));
	hpa_set_overcommit(true);
}

/* A thread that takes and frees 2 MiB pages of one node until told. */
struct churn {
	int fd, nid;
	volatile int stop;
	long ok, enomem, other;
};

static void *churn_2m(void *arg)
{
	struct churn *c = arg;
	struct hpalloc_alloc a;

	while (!c->stop) {
		int ret = alloc_on(c->fd, c->nid, HPALLOC_PAGE_SIZE_2M, 1, &a);

		if (!ret) {
			c->ok++;
			dev_free(c->fd, a.offset);
		} else if (ret == -ENOMEM) {
			c->enomem++;
		} else {
			c->other++;
		}
	}
	return NULL;
}

/*
 * Splits and merges asked while another thread takes and frees 2 MiB pages
 * of the node (overcommit off: from the pool, splitting on its own when it
 * is dry): every request succeeds or finds nothing to convert (ENOMEM), no
 * piece is lost, and once the thread stops the GiB merges back.
 */
TEST_F(convert, split_and_merge_while_2m_pages_churn)
{
	struct churn c = { .fd = self->fd, .nid = self->nid };
	struct conv_counts c0, c1;
	int nid = self->nid, i, ret, bad = 0;
	pthread_t t;

	hpa_pools_quiesce(30000);
	conv_read(nid, &c0);
	ASSERT_EQ(0, hpa_set_overcommit(false));
	ASSERT_EQ(0, pthread_create(&t, NULL, churn_2m, &c));
	for (i = 0; i < 6; i++) {
		ret = hpa_pool_write(nid, 1, i & 1 ? "merge_pages" :
				     "split_pages", 1);
		if (ret && ret != -ENOMEM)
			bad = ret;
		TH_LOG("%s: %d; 2M free %ld zeroing %ld in_use %ld total %ld, 1G total %ld; thread %ld/%ld",
		       i & 1 ? "merge" : "split", ret,
		       hpa_pool_read(nid, 0, "free"),
		       hpa_pool_read(nid, 0, "zeroing"),
		       hpa_pool_read(nid, 0, "in_use"),
		       hpa_pool_read(nid, 0, "total"),
		       hpa_pool_read(nid, 1, "total"), c.ok, c.enomem);
		usleep(50000);
	}
	c.stop = 1;
	pthread_join(t, NULL);
	hpa_set_overcommit(true);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, c.other);
	EXPECT_LT(0, c.ok);
	hpa_pools_quiesce(30000);
	if (hpa_pool_read(nid, 1, "total") < c0.total_1g)
		EXPECT_EQ(0, hpa_pool_write(nid, 1, "merge_pages", 1));
	conv_read(nid, &c1);
	EXPECT_EQ(c0.total_1g, c1.total_1g);
	EXPECT_EQ(c0.total_2m, c1.total_2m);
	EXPECT_EQ(c0.target_2m, c1.target_2m);
	EXPECT_EQ(c0.lost, c1.lost);
	EXPECT_EQ(c1.split - c0.split, c1.merged - c0.merged);
	TH_LOG("%ld splits, %ld merges; the thread: %ld pages, %ld ENOMEM",
	       c1.split - c0.split, c1.merged - c0.merged, c.ok, c.enomem);
}

/* Bad requests get a clear error and change nothing. */
TEST_F(convert, bad_requests_change_nothing)
{
	static const char *const garbage[] = {
		"abc", "-1", "1x", "0", "0x", "99999999999999999999999999",
	};
	struct conv_counts c0, c1;
	int nid = self->nid;
	unsigned int i;
	char path[128];

	hpa_pools_quiesce(30000);
	conv_read(nid, &c0);
	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		EXPECT_EQ(-EINVAL, pool_write_str(nid, 1, "split_pages",
						  garbage[i]))
			TH_LOG("split_pages '%s'", garbage[i]);
		EXPECT_EQ(-EINVAL, pool_write_str(nid, 1, "merge_pages",
						  garbage[i]))
			TH_LOG("merge_pages '%s'", garbage[i]);
	}
	/* more than there is: one 1 GiB page above min, no free GiB of 2M */
	EXPECT_EQ(-ENOMEM, hpa_pool_write(nid, 1, "split_pages", 2));
	EXPECT_EQ(-ENOMEM, hpa_pool_write(nid, 1, "merge_pages", 1000000));
	/* the page at min does not split */
	ASSERT_EQ(0, hpa_pool_write(nid, 1, "min", self->min_1g));
	EXPECT_EQ(-ENOMEM, hpa_pool_write(nid, 1, "split_pages", 1));
	/* a 2 MiB pool has no conversion files */
	hpa_pool_path(path, sizeof(path), nid, 0, "split_pages");
	EXPECT_EQ(-1, access(path, F_OK));
	hpa_pool_path(path, sizeof(path), nid, 0, "merged");
	EXPECT_EQ(-1, access(path, F_OK));
	conv_read(nid, &c1);
	EXPECT_EQ(0, memcmp(&c0, &c1, sizeof(c0)));
}

TEST_HARNESS_MAIN
