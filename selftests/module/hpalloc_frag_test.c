// SPDX-License-Identifier: GPL-2.0
/*
 * hpalloc issue 8: the pool does not stand in its own way.  A node's free
 * 2 MiB pool pages are unmovable; when they are all that keeps a 1 GiB range
 * from becoming a 1 GiB page, the module gives them back and takes the
 * range.  And a node fragmented with movable memory still gives 1 GiB
 * pages.  Checked from outside: the node's free memory, its pages' flags
 * (/proc/kpageflags), the pools' totals and the counters that say which
 * ranges were tried and why they failed.  And growing a 2 MiB pool takes
 * GiBs that are broken already before clean ones.
 */
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "hpa_util.h"
#include "hpa_test_pool.h"
#include "hpa_frag.h"

FIXTURE(frag) {
	int nid;
	long target_1g, target_2m, min_2m;
	bool restore;
};

FIXTURE_SETUP(frag)
{
	if (access("/dev/hpalloc", F_OK))
		SKIP(return, "/dev/hpalloc is missing: module not loaded");
	self->nid = hpa_reserved_1g_node();
	if (self->nid < 0)
		SKIP(return, HPA_NO_1G_RESERVED);
	hpa_pools_quiesce(30000);
	self->target_1g = hpa_pool_read(self->nid, 1, "target");
	self->target_2m = hpa_pool_read(self->nid, 0, "target");
	self->min_2m = hpa_pool_read(self->nid, 0, "min");
	ASSERT_LE(1, self->target_1g);
	ASSERT_LE(0, self->target_2m);
	self->restore = true;
}

FIXTURE_TEARDOWN(frag)
{
	if (!self->restore)
		return;
	hpa_set_overcommit(true);
	hpa_pools_quiesce(30000);
	hpa_pool_write(self->nid, 0, "min", self->min_2m);
	hpa_pool_write(self->nid, 0, "target", self->target_2m);
	hpa_pool_write(self->nid, 1, "target", self->target_1g);
	EXPECT_EQ(self->target_1g, hpa_pool_read(self->nid, 1, "total"));
	EXPECT_EQ(self->target_2m, hpa_pool_read(self->nid, 0, "total"));
}

/*
 * Give a reserved 1 GiB page back, fill the node with free 2 MiB pool
 * pages until less than a GiB of it is free (so no aligned GiB is free
 * unless the pool gives some up), then ask for the 1 GiB page again.
 */
TEST_F_TIMEOUT(frag, own_free_2m_pages_give_way_to_1g, 600)
{
	long free_kb, want, got, own0, rel0, total0, rel;
	int nid = self->nid;

	ASSERT_EQ(0, hpa_pool_write(nid, 1, "target", self->target_1g - 1));
	ASSERT_EQ(self->target_1g - 1, hpa_pool_read(nid, 1, "total"));

	free_kb = hpa_node_free_kb(nid);
	ASSERT_LT(0, free_kb);
	/* leave 256 MiB: reclaim on the node stays quiet */
	want = (free_kb - (256L << 10)) / 2048;
	ASSERT_LT(0, want);
	ASSERT_EQ(0, hpa_pool_write(nid, 0, "target", self->target_2m + want));
	got = hpa_pool_read(nid, 0, "target") - self->target_2m;
	free_kb = hpa_node_free_kb(nid);
	ASSERT_GT(1L << 20, free_kb)
		TH_LOG("node%d: %ld of %ld 2 MiB pages, %ld MiB still free",
		       nid, got, want, free_kb >> 10);

	own0 = hpa_pool_read(nid, 1, "ranges_own_2m");
	rel0 = hpa_pool_read(nid, 0, "released_for_1g");
	total0 = hpa_pool_read(nid, 0, "total");
	ASSERT_LE(0, own0);
	ASSERT_LE(0, rel0);

	ASSERT_EQ(0, hpa_pool_write(nid, 1, "target", self->target_1g));
	EXPECT_EQ(self->target_1g, hpa_pool_read(nid, 1, "total"))
		TH_LOG("node%d: no 1 GiB page out of its own 2 MiB pages", nid);
	EXPECT_LT(own0, hpa_pool_read(nid, 1, "ranges_own_2m"));
	rel = hpa_pool_read(nid, 0, "released_for_1g") - rel0;
	/* some 2 MiB pages, at most those of the ranges it tried */
	EXPECT_LT(0, rel);
	EXPECT_GE(512 * (hpa_pool_read(nid, 1, "ranges_own_2m") - own0), rel);
	EXPECT_EQ(total0 - rel, hpa_pool_read(nid, 0, "total"));
	EXPECT_EQ(total0 - rel, hpa_pool_read(nid, 0, "target"));
}

/*
 * A pool's minimum is not given up: with every free 2 MiB page protected
 * by min, the same request finds nothing and the pool stays as it was.
 */
TEST_F_TIMEOUT(frag, min_2m_pages_stay, 600)
{
	long free_kb, want, rel0, total;
	int nid = self->nid;

	ASSERT_EQ(0, hpa_pool_write(nid, 1, "target", self->target_1g - 1));
	free_kb = hpa_node_free_kb(nid);
	want = (free_kb - (256L << 10)) / 2048;
	ASSERT_LT(0, want);
	ASSERT_EQ(0, hpa_pool_write(nid, 0, "target", self->target_2m + want));
	total = hpa_pool_read(nid, 0, "total");
	ASSERT_EQ(0, hpa_pool_write(nid, 0, "min", total));
	ASSERT_GT(1L << 20, hpa_node_free_kb(nid));
	rel0 = hpa_pool_read(nid, 0, "released_for_1g");

	ASSERT_EQ(0, hpa_pool_write(nid, 1, "target", self->target_1g));
	EXPECT_EQ(self->target_1g - 1, hpa_pool_read(nid, 1, "total"));
	EXPECT_EQ(rel0, hpa_pool_read(nid, 0, "released_for_1g"));
	EXPECT_EQ(total, hpa_pool_read(nid, 0, "total"));
	EXPECT_EQ(0, hpa_pool_write(nid, 0, "min", self->min_2m));
}

/*
 * Shrinking a 2 MiB pool gives back whole GiBs first.  The node is filled
 * with 2 MiB pool pages while its reserved 1 GiB page holds one GiB; then
 * the 1 GiB page goes and 512 more 2 MiB pages take (most of) its GiB:
 * the last pages on the pool's free list.  Shrinking by 512 must empty that
 * GiB (the one range of pool pages that can become free), so that the
 * 1 GiB page comes back without giving up any more 2 MiB pages.
 */
TEST_F_TIMEOUT(frag, shrink_gives_back_whole_gibs, 600)
{
	long free_kb, want, target, own0, rel0;
	int nid = self->nid;

	free_kb = hpa_node_free_kb(nid);
	want = (free_kb - (256L << 10)) / 2048;
	ASSERT_LT(0, want);
	ASSERT_EQ(0, hpa_pool_write(nid, 0, "target", self->target_2m + want));
	ASSERT_EQ(0, hpa_pool_write(nid, 1, "target", self->target_1g - 1));
	target = hpa_pool_read(nid, 0, "target");
	ASSERT_EQ(0, hpa_pool_write(nid, 0, "target", target + 512));
	target = hpa_pool_read(nid, 0, "target");
	ASSERT_GT(1L << 20, hpa_node_free_kb(nid))
		TH_LOG("node%d still has a free GiB", nid);

	own0 = hpa_pool_read(nid, 1, "ranges_own_2m");
	rel0 = hpa_pool_read(nid, 0, "released_for_1g");
	ASSERT_EQ(0, hpa_pool_write(nid, 0, "target", target - 512));
	EXPECT_EQ(target - 512, hpa_pool_read(nid, 0, "total"));
	ASSERT_EQ(0, hpa_pool_write(nid, 1, "target", self->target_1g));
	EXPECT_EQ(self->target_1g, hpa_pool_read(nid, 1, "total"));
	EXPECT_EQ(own0, hpa_pool_read(nid, 1, "ranges_own_2m"))
		TH_LOG("the 1 GiB page needed 2 MiB pages given up");
	EXPECT_EQ(rel0, hpa_pool_read(nid, 0, "released_for_1g"));
}

/*
 * Fill the node with page cache and anonymous memory, free a random two
 * thirds (hpa_frag.h, as frag_bench does), and ask for as many 1 GiB
 * pages as the node has aligned GiBs of only free and movable pages.  The
 * bound is conservative (docs/bench.md has what the module gets): at least
 * half of them, and at least one.
 */
TEST_F_TIMEOUT(frag, one_gib_pages_after_fragmentation, 900)
{
	long free_kb, movable, gibs = 0, base = self->target_1g - 1, got;
	struct hpa_frag f;
	int nid = self->nid;

	ASSERT_EQ(0, hpa_pool_write(nid, 1, "target", base));
	free_kb = hpa_node_free_kb(nid) - (256L << 10);
	ASSERT_LT(0, free_kb);
	/* 1.5 GiB at most: emulated, filling and migrating take long */
	if (free_kb > (3L << 20) / 2)
		free_kb = (3L << 20) / 2;
	ASSERT_EQ(0, hpa_frag_fill(&f, nid, free_kb * 1024, 8));
	movable = hpa_frag_movable_gibs(nid, &gibs);
	TH_LOG("node%d: %ld MiB free, %ld of %ld aligned GiBs movable", nid,
	       hpa_node_free_kb(nid) >> 10, movable, gibs);
	if (movable < 1) {
		hpa_frag_release(&f);
		ASSERT_LE(0, movable) TH_LOG("cannot read /proc/kpageflags");
		SKIP(return, "node%d: no aligned GiB of movable pages", nid);
	}
	ASSERT_EQ(0, hpa_pool_write(nid, 1, "target", base + movable));
	got = hpa_pool_read(nid, 1, "total") - base;
	EXPECT_LE((movable + 1) / 2, got)
		TH_LOG("%ld 1 GiB pages of %ld movable GiBs; ranges: %ld tried, %ld unmovable, %ld pinned, %ld busy",
		       got, movable, hpa_pool_read(nid, 1, "ranges_tried"),
		       hpa_pool_read(nid, 1, "ranges_unmovable"),
		       hpa_pool_read(nid, 1, "ranges_pinned"),
		       hpa_pool_read(nid, 1, "ranges_busy"));
	hpa_frag_release(&f);
}

/*
 * The node's aligned GiBs as kpageflags shows them: gib[g] is -1 for a GiB
 * not (wholly) in the node, 0 for one that holds only free and movable
 * pages (hpa_gib_movable()), and 1 + the number of free 2 MiB blocks in
 * it otherwise (the first page BUDDY, the other 511 BUDDY or without
 * flags): an estimate of where steered growth can go.  -1 on error.
 */
static int hpa_node_gibs(int nid, long *gibs, int nr_gibs)
{
	enum { B = 512 };
	const uint64_t buddy = 1ULL << HPA_KPF_BUDDY;
	uint64_t bsz = hpa_memory_block_size(), flags[B], pfn, end;
	int kflags, g, ret = 0;

	if (!bsz || bsz > HPA_GIB)
		return -1;
	kflags = open("/proc/kpageflags", O_RDONLY);
	if (kflags < 0)
		return -1;
	for (g = 0; g < nr_gibs && !ret; g++) {
		int ok;

		gibs[g] = -1;
		if (!hpa_gib_in_node(nid, g, bsz))
			continue;
		ok = hpa_gib_movable(kflags, g);
		if (ok < 0) {
			ret = -1;
			break;
		}
		gibs[g] = !ok;
		if (ok)
			continue;
		end = (g + 1) * HPA_GIB / 4096;
		for (pfn = g * HPA_GIB / 4096; pfn < end; pfn += B) {
			int i;

			if (pread(kflags, flags, sizeof(flags),
				  pfn * sizeof(uint64_t)) != sizeof(flags)) {
				ret = -1;
				break;
			}
			if (flags[0] != buddy)
				continue;
			for (i = 1; i < B && !(flags[i] & ~buddy); i++)
				;
			gibs[g] += i == B;
		}
	}
	close(kflags);
	return ret;
}

/*
 * Growth of a 2 MiB pool does not break a GiB that could be a 1 GiB page:
 * the new pages come from free blocks in GiBs that already hold something
 * unmovable (kmod/pages.c, hpa_pages_steer_2m()) and count in `steered`.
 * The node is fragmented first (hpa_frag.h): its free blocks are then on
 * the page allocator's lists in the order the chunks were freed, which is
 * random.  The page allocator serves unmovable pages from pageblocks it
 * has marked unmovable first; once those are used up it takes the first
 * free movable block on its lists, from any GiB (seen on 6.12 with
 * steering off: of 869 pages, 121 went into a clean GiB while broken GiBs
 * still had 171 free blocks).  The pool grows by 7/8 of the free blocks
 * found in broken GiBs (the rest is a margin for the estimate); all of
 * its pages must be steered, none may lie in a GiB that held only free
 * and movable pages before, and every page is zero.
 */
TEST_F_TIMEOUT(frag, growth_keeps_clean_gibs_clean, 300)
{
	enum { GIBS = 1024 };
	static long gibs[GIBS];
	long blocks = 0, movable = 0, nr, steered0, total, nfree, free_kb, i;
	long clean = 0, dirty = 0;
	int nid = self->nid, fd, g;
	struct hpalloc_alloc a;
	struct hpa_frag f;
	char *p;

	if (hpa_kernel_before(6, 9))
		SKIP(return, "no steering before 6.9: alloc_contig_range() gives order-0 pages there, which GUP cannot pin as 2 MiB pages");
	/* a GiB given back: clean, free and on the page allocator's lists */
	ASSERT_EQ(0, hpa_pool_write(nid, 1, "target", self->target_1g - 1));
	ASSERT_EQ(self->target_1g - 1, hpa_pool_read(nid, 1, "total"));
	free_kb = hpa_node_free_kb(nid) - (256L << 10);
	ASSERT_LT(0, free_kb);
	/* as one_gib_pages_after_fragmentation */
	if (free_kb > (3L << 20) / 2)
		free_kb = (3L << 20) / 2;
	ASSERT_EQ(0, hpa_frag_fill(&f, nid, free_kb * 1024, 9));
	hpa_pools_quiesce(30000);
	/* pages just faulted in look unmovable until they reach the LRU */
	ASSERT_EQ(0, hpa_lru_drain(nid));
	ASSERT_EQ(0, hpa_node_gibs(nid, gibs, GIBS))
		TH_LOG("cannot read /proc/kpageflags");
	for (g = 0; g < GIBS; g++) {
		movable += gibs[g] == 0;
		blocks += gibs[g] > 0 ? gibs[g] - 1 : 0;
	}
	TH_LOG("node%d: %ld movable GiBs; %ld free 2 MiB blocks in the others",
	       nid, movable, blocks);
	if (!movable || blocks < 2) {
		hpa_frag_release(&f);
		SKIP(return, "node%d: nothing to steer away from or into", nid);
	}
	nr = blocks - blocks / 8;

	steered0 = hpa_pool_read(nid, 0, "steered");
	ASSERT_LE(0, steered0);
	total = hpa_pool_read(nid, 0, "total");
	ASSERT_EQ(0, hpa_pool_write(nid, 0, "target", total + nr));
	ASSERT_EQ(total + nr, hpa_pool_read(nid, 0, "total"));
	TH_LOG("node%d: %ld pages grown, %ld of them steered", nid, nr,
	       hpa_pool_read(nid, 0, "steered") - steered0);
	EXPECT_EQ(steered0 + nr, hpa_pool_read(nid, 0, "steered"));

	/* every free page of the pool, the new ones among them */
	hpa_pools_quiesce(30000);
	nfree = hpa_pool_read(nid, 0, "free");
	ASSERT_LE(nr, nfree);
	ASSERT_EQ(0, hpa_set_overcommit(false));
	fd = open("/dev/hpalloc", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, dev_alloc_full(fd, (uint64_t)nfree << 21,
				    HPALLOC_PAGE_SIZE_2M, HPALLOC_POLICY_BIND,
				    1ULL << nid, 0, &a));
	hpa_set_overcommit(true);
	p = mmap(NULL, (size_t)nfree << 21, PROT_READ, MAP_SHARED, fd,
		 a.offset);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < nfree; i++) {
		uint64_t phys = hpa_buf_phys(fd, a.offset, i);
		const uint64_t *w = (const uint64_t *)(p + (i << 21));
		size_t j;

		ASSERT_NE(0, phys);
		g = phys / HPA_GIB;
		if (g < GIBS && gibs[g] == 0 && clean++ < 3)
			TH_LOG("page %ld at %#llx: in GiB %d, which was movable",
			       i, (unsigned long long)phys, g);
		for (j = 0; j < (1UL << 21) / sizeof(*w); j++)
			if (w[j]) {
				dirty++;
				break;
			}
	}
	EXPECT_EQ(0, clean);
	EXPECT_EQ(0, dirty);
	munmap(p, (size_t)nfree << 21);
	EXPECT_EQ(0, dev_free(fd, a.offset));
	close(fd);
	hpa_frag_release(&f);
}

TEST_HARNESS_MAIN
