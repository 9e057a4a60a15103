// SPDX-License-Identifier: GPL-2.0
/*
 * The page source: where pool pages and private ranges come from and go
 * back to.  2 MiB pages are order-9 compound pages: free blocks in GiBs
 * that are broken already while there are some (hpa_pages_steer_2m()),
 * else what the buddy allocator gives; 1 GiB pages (and physically
 * contiguous ranges of either size) are found by scanning a node's zones
 * for a free, aligned range that alloc_contig_range() can take, migrating
 * movable pages away, as the kernel's own run-time gigantic pages are.
 * Also here: zeroing, the check for references others hold on a page (GUP
 * pins), and how much a node could still give.  No pool lists or counters
 * live here.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/sched/signal.h>
#include <linux/swap.h>
#include <linux/vmstat.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "internal.h"

/* base pages taken from the page allocator and not given back yet */
static atomic_long_t hpa_pages_held = ATOMIC_LONG_INIT(0);
/* ranges given back to the page allocator per node, see hpa_pool_take() */
static atomic_long_t hpa_node_released[MAX_NUMNODES];

/*
 * One alloc_contig_range() of this module at a time.  Each isolates the
 * pageblocks of its range, and two free isolated pageblocks side by side
 * merge into one free block of a higher order: a range of one pageblock
 * (2 MiB) next to another call's range then starts inside a bigger free
 * block, which 6.12 refuses for __GFP_COMP with a WARNING ("PFN range:
 * requested [...], allocated [...]") and without giving the isolated pages
 * back (seen with two threads taking 2 MiB CONTIG buffers at once).  Only
 * a one-pageblock __GFP_COMP range can meet this (bigger ones are aligned
 * to the largest order, and without __GFP_COMP the kernel gives the outer
 * pages back), but the lock is taken for all: the calls are slow anyway
 * (they drain every CPU's page lists).  Waiting stops on a fatal signal.
 */
static DEFINE_MUTEX(hpa_contig_lock);

/* Every alloc_contig_range() of the module: may reclaim, gives up quietly. */
#define HPA_CONTIG_GFP	(GFP_KERNEL | __GFP_NOWARN | __GFP_RETRY_MAYFAIL)

static int hpa_contig_range(unsigned long pfn, unsigned long nr, gfp_t gfp)
{
	int ret;

	if (mutex_lock_killable(&hpa_contig_lock))
		return -EINTR;
	ret = alloc_contig_range(pfn, pfn + nr, MIGRATE_MOVABLE, gfp);
	mutex_unlock(&hpa_contig_lock);
	return ret;
}

/*
 * A range alloc_contig_range() just gave: held until hpa_pages_free(), and
 * zero (the allocator zeroes it only when init_on_alloc is set).
 */
static void hpa_range_taken(struct page *page, unsigned long nr)
{
	atomic_long_add(nr, &hpa_pages_held);
	if (!want_init_on_alloc(0))
		hpa_pages_zero(page, nr);
}

/* A 2 MiB page: one order-9 compound page from this node only, zeroed. */
struct page *hpa_pages_alloc_2m(int nid)
{
	gfp_t gfp = GFP_HIGHUSER | __GFP_THISNODE | __GFP_COMP | __GFP_ZERO |
		    __GFP_NOWARN | __GFP_RETRY_MAYFAIL;
	struct page *page = alloc_pages_node(nid, gfp, PMD_ORDER);

	if (page)
		atomic_long_add(1UL << PMD_ORDER, &hpa_pages_held);
	return page;
}

/*
 * Could [pfn, pfn + nr) be taken by alloc_contig_range()?  A quick look that
 * avoids the cost of trying ranges with pages that never move.
 */
static bool hpa_range_looks_free(struct zone *zone, unsigned long pfn,
				 unsigned long nr, unsigned long *bad_pfn)
{
	unsigned long end = pfn + nr;

	for (; pfn < end; pfn++) {
		struct page *page = pfn_to_online_page(pfn);

		if (!page || page_zone(page) != zone || PageReserved(page) ||
		    PageHuge(page) || PageSlab(page) || PageTable(page)) {
			*bad_pfn = pfn;
			return false;
		}
	}
	return true;
}

/* Attempts on one range whose obstacles are movable pages, before giving up. */
#define HPA_CONTIG_TRIES	3

/* Why a range alloc_contig_range() refused could not be had. */
enum hpa_range_state {
	HPA_RANGE_MOVABLE,	/* only free and movable pages: try again */
	HPA_RANGE_OWN_2M,	/* ... and free pages of the node's 2 MiB pool */
	HPA_RANGE_PINNED,	/* a movable page someone has pinned */
	HPA_RANGE_UNMOVABLE,	/* a page that never moves */
};

/*
 * User memory (page cache, anonymous) that is off the LRU lists for a
 * moment: in a CPU's batch on its way there (lru_add_drain_all() is not
 * exported to modules), or isolated by reclaim or migration.  It moves:
 * alloc_contig_range() drains the batches before it migrates.  Slab pages
 * and page tables use the mapping field for other things.
 */
static bool hpa_folio_user_busy(struct page *page, struct folio *folio)
{
	if (PageSlab(page) || PageTable(page) || PageReserved(page))
		return false;
	/* without the page's lock: a hint, alloc_contig_range() checks */
	return data_race(folio->mapping);
}

/*
 * After alloc_contig_range() refused [pfn, pfn + nr): look at every page
 * to say why.  A racy look (pages come and go), good for counting and for
 * deciding whether another attempt can help.
 */
static enum hpa_range_state hpa_range_state(struct zone *zone,
					    unsigned long pfn,
					    unsigned long nr,
					    const unsigned long *own)
{
	unsigned long start = pfn, end = pfn + nr;
	bool pinned = false, saw_own = false;

	for (; pfn < end; pfn++) {
		struct page *page = pfn_to_online_page(pfn);
		struct folio *folio;

		if (!page || page_zone(page) != zone)
			return HPA_RANGE_UNMOVABLE;
		if (PageBuddy(page)) {
			/* a free block: its order, read racily, is a hint */
			unsigned long order = data_race(page_private(page));

			if (order <= PUD_ORDER && IS_ALIGNED(pfn, 1UL << order))
				pfn += (1UL << order) - 1;
			continue;
		}
		if (own && IS_ALIGNED(pfn - start, 1UL << PMD_ORDER) &&
		    test_bit((pfn - start) >> PMD_ORDER, own)) {
			saw_own = true;
			pfn += (1UL << PMD_ORDER) - 1;
			continue;
		}
		if (!page_ref_count(page))
			continue;	/* free, or the tail of a free block */
		folio = page_folio(page);
		if (folio_test_lru(folio) || __folio_test_movable(folio) ||
		    hpa_folio_user_busy(page, folio)) {
			if (!__folio_test_movable(folio) &&
			    folio_maybe_dma_pinned(folio))
				pinned = true;
			continue;
		}
		return HPA_RANGE_UNMOVABLE;
	}
	if (pinned)
		return HPA_RANGE_PINNED;
	return saw_own ? HPA_RANGE_OWN_2M : HPA_RANGE_MOVABLE;
}

/*
 * Try to take [pfn, pfn + nr_base), a range that looks free.  Movable
 * pages that do not migrate at once (locked, under writeback, in another
 * CPU's LRU batch) get HPA_CONTIG_TRIES attempts; the node's own free
 * 2 MiB pool pages are given up for the range.  Returns 0 or -errno.
 */
static int hpa_take_range(struct zone *zone, unsigned long pfn,
			  unsigned long nr_base, gfp_t gfp,
			  struct hpa_pool *small, struct hpa_scan *scan)
{
	DECLARE_BITMAP(own, HPA_OWN_SLOTS);
	bool use_own = small && nr_base <= HPA_OWN_SLOTS << PMD_ORDER;
	unsigned int busy = 0, released = 0;
	int ret;

	for (;;) {
		enum hpa_range_state state;

		if (fatal_signal_pending(current))
			return -EINTR;
		scan->tried++;
		ret = hpa_contig_range(pfn, nr_base, gfp);
		if (!ret || ret == -EINTR)
			return ret;
		if (use_own && !hpa_pool_own_in_range(small, pfn, nr_base, own))
			use_own = false;
		state = hpa_range_state(zone, pfn, nr_base,
					use_own ? own : NULL);
		switch (state) {
		case HPA_RANGE_UNMOVABLE:
			scan->unmovable++;
			return ret;
		case HPA_RANGE_PINNED:
			scan->pinned++;
			return ret;
		case HPA_RANGE_OWN_2M:
			/* none to give (the 2 MiB pool is at its min) */
			if (released == HPA_CONTIG_TRIES ||
			    !hpa_pool_release_in_range(small, pfn, nr_base)) {
				scan->unmovable++;
				return ret;
			}
			if (!released++)
				scan->own_2m++;
			break;
		case HPA_RANGE_MOVABLE:
			if (++busy == HPA_CONTIG_TRIES) {
				scan->busy++;
				return ret;
			}
			cond_resched();
			break;
		}
	}
}

/* The two passes of a search: see hpa_alloc_contig_node(). */
enum hpa_search_pass {
	HPA_PASS_FREE,		/* ranges without free 2 MiB pool pages */
	HPA_PASS_OWN,		/* ranges with some: given up for the range */
	HPA_NR_PASSES
};

/* Does the pass look at [pfn, pfn + nr_base)?  Only one of them does. */
static bool hpa_pass_wants(enum hpa_search_pass pass, struct hpa_pool *small,
			   unsigned long pfn, unsigned long nr_base)
{
	DECLARE_BITMAP(own, HPA_OWN_SLOTS);
	bool has_own = small && nr_base <= HPA_OWN_SLOTS << PMD_ORDER &&
		       hpa_pool_own_in_range(small, pfn, nr_base, own);

	return has_own == (pass == HPA_PASS_OWN);
}

/* One pass over one zone; returns the range taken, or NULL (*err set). */
static struct page *hpa_search_zone(struct zone *zone, unsigned long nr_base,
				    unsigned long align_base, gfp_t gfp,
				    struct hpa_pool *small,
				    enum hpa_search_pass pass,
				    struct hpa_scan *scan, int *err)
{
	unsigned long end = zone_end_pfn(zone);
	unsigned long pfn = ALIGN(zone->zone_start_pfn, align_base);

	*err = 0;
	while (pfn + nr_base <= end) {
		unsigned long bad = 0;
		int ret;

		if (!hpa_range_looks_free(zone, pfn, nr_base, &bad)) {
			if (pass == HPA_PASS_FREE)
				scan->unmovable++;
			pfn = ALIGN(bad + 1, align_base);
			cond_resched();
			continue;
		}
		if (hpa_pass_wants(pass, small, pfn, nr_base)) {
			ret = hpa_take_range(zone, pfn, nr_base, gfp, small,
					     scan);
			if (!ret)
				return pfn_to_page(pfn);
			if (ret == -EINTR) {
				*err = ret;
				return NULL;
			}
		}
		pfn += align_base;
		cond_resched();
	}
	return NULL;
}

/*
 * Take nr_base physically contiguous base pages from node nid, aligned to
 * align_base (a power of two); what the search saw is added to *scan.
 * Ranges that hold free pages of the node's 2 MiB pool are looked at only
 * after every other range failed: a 2 MiB page is given up for a range
 * only when no range can be had without.  *compound says whether the
 * range came back as one compound folio (see compat.h).  May sleep a long
 * time: stops on a fatal signal.
 */
static struct page *hpa_alloc_contig_node(int nid, enum hpa_size size,
					  unsigned long nr_base,
					  unsigned long align_base,
					  bool *compound,
					  struct hpa_scan *scan)
{
	pg_data_t *pgdat = NODE_DATA(nid);
	bool want_comp = HPALLOC_CONTIG_COMPOUND && is_power_of_2(nr_base) &&
			 align_base >= nr_base;
	gfp_t gfp = HPA_CONTIG_GFP;
	struct hpa_pool *small = NULL;
	struct page *found = NULL;
	int pass, z, err = 0;

	if (size != HPA_2M)
		small = hpa_pool_of(nid, HPA_2M);
	if (want_comp)
		gfp |= HPALLOC_CONTIG_GFP_COMP;
	for (pass = 0; pass < HPA_NR_PASSES && !found && !err; pass++) {
		for (z = 0; z < MAX_NR_ZONES && !found && !err; z++) {
			struct zone *zone = &pgdat->node_zones[z];

			if (!populated_zone(zone) || zone_is_zone_device(zone))
				continue;
			found = hpa_search_zone(zone, nr_base, align_base, gfp,
						small, pass, scan, &err);
		}
	}
	if (found) {
		*compound = want_comp;
		hpa_range_taken(found, nr_base);
	}
	if (!found && !err)
		pr_info_ratelimited("node%d: no free %lu MiB range: %lu attempts; ranges given up: %lu unmovable, %lu pinned, %lu busy\n",
				    nid, nr_base >> (20 - PAGE_SHIFT),
				    scan->tried, scan->unmovable, scan->pinned,
				    scan->busy);
	return found;
}

/*
 * Steering 2 MiB pool pages into GiBs that are broken already.  The page
 * allocator groups unmovable pages by pageblock, but when its unmovable
 * lists run dry it converts the largest free movable block it has, which
 * is most often in a GiB that held nothing unmovable: one pool page there
 * and that GiB cannot be a 1 GiB page until the page goes.  So a pool
 * grows first from free 2 MiB blocks in aligned GiBs that already hold an
 * unmovable page (slab, page tables, reserved memory, a hole, a page of
 * either pool, a buffer's page) or that reach past their zone: those GiBs
 * cannot be 1 GiB pages anyway.  Such a block is taken with
 * alloc_contig_range() as an order-9 compound page, which is what the
 * buddy allocator would have given; without HPALLOC_CONTIG_COMPOUND
 * (before 6.9) a range comes back as order-0 pages, which GUP cannot pin
 * as one 2 MiB page, so there is no steering and growth is the page
 * allocator's alone.  A resize walks the node once (twice, see below);
 * only free blocks the buddy allocator holds whole are looked at, and a
 * zone is left alone once it is near its high watermark
 * (alloc_contig_range() does not look at watermarks).
 */
void hpa_steer_init(struct hpa_steer *st, int nid)
{
	*st = (struct hpa_steer){
		.nid = nid,
		.done = !HPALLOC_CONTIG_COMPOUND || nid < 0 ||
			nid >= MAX_NUMNODES || !node_state(nid, N_MEMORY),
	};
}

/* Can the zone give one more 2 MiB block and stay above its high mark? */
static bool hpa_zone_can_give(struct zone *zone)
{
	unsigned long free = zone_page_state(zone, NR_FREE_PAGES);

	return free > high_wmark_pages(zone) +
		      zone->lowmem_reserve[MAX_NR_ZONES - 1] +
		      (1UL << PMD_ORDER);
}

/* Is the 2 MiB block at pfn one free block of the buddy allocator? */
static bool hpa_block_free(struct zone *zone, unsigned long pfn)
{
	struct page *page = pfn_to_online_page(pfn);

	if (!page || page_zone(page) != zone || !PageBuddy(page))
		return false;
	/* without the zone lock: a hint, alloc_contig_range() checks */
	return data_race(page_private(page)) >= PMD_ORDER;
}

/* Does the aligned GiB at start fail to be a 1 GiB page whatever moves? */
static bool hpa_gib_broken(struct zone *zone, unsigned long start)
{
	unsigned long nr = 1UL << PUD_ORDER;

	if (start < zone->zone_start_pfn || start + nr > zone_end_pfn(zone))
		return true;
	return hpa_range_state(zone, start, nr, NULL) == HPA_RANGE_UNMOVABLE;
}

/*
 * The next 2 MiB page from a free block in a broken GiB of st's node,
 * zeroed, or NULL once the walk has found none (it stops on a fatal
 * signal too).  A block with pages on a CPU's free list is not whole in
 * the buddy allocator; alloc_contig_range() gives those pages back to it
 * (drain_all_pages()), so after a pass that took a block the node is
 * walked once more for the blocks that became whole.
 */
struct page *hpa_pages_steer_2m(struct hpa_steer *st)
{
	gfp_t gfp = HPA_CONTIG_GFP | HPALLOC_CONTIG_GFP_COMP;
	unsigned long piece = 1UL << PMD_ORDER;
	pg_data_t *pgdat;

	if (st->done)
		return NULL;
	pgdat = NODE_DATA(st->nid);
again:
	for (; st->zone < MAX_NR_ZONES; st->zone++, st->pfn = 0) {
		struct zone *zone = &pgdat->node_zones[st->zone];
		unsigned long end = zone_end_pfn(zone);

		if (!populated_zone(zone) || zone_is_zone_device(zone))
			continue;
		if (st->pfn < zone->zone_start_pfn) {
			st->pfn = ALIGN(zone->zone_start_pfn, piece);
			st->gib_end = 0;
		}
		while (st->pfn + piece <= end && hpa_zone_can_give(zone)) {
			unsigned long pfn = st->pfn;
			struct page *page;

			if (fatal_signal_pending(current)) {
				st->done = true;
				return NULL;
			}
			st->pfn += piece;
			if (!hpa_block_free(zone, pfn))
				continue;
			if (pfn >= st->gib_end) {
				unsigned long gib = ALIGN_DOWN(pfn, 1UL << PUD_ORDER);

				st->gib_end = gib + (1UL << PUD_ORDER);
				st->gib_broken = hpa_gib_broken(zone, gib);
				cond_resched();
			}
			if (!st->gib_broken) {
				st->pfn = st->gib_end;
				continue;
			}
			if (hpa_contig_range(pfn, piece, gfp))
				continue;
			st->took = true;
			page = pfn_to_page(pfn);
			hpa_range_taken(page, piece);
			return page;
		}
	}
	if (st->took && !st->second) {
		st->second = true;
		st->zone = 0;
		st->pfn = 0;
		goto again;
	}
	st->done = true;
	return NULL;
}

/* Clear nr base pages starting at page; they may be non-compound. */
void hpa_pages_zero(struct page *page, unsigned long nr)
{
	unsigned long pfn = page_to_pfn(page);
	unsigned long i;

	for (i = 0; i < nr; i++) {
		clear_highpage(pfn_to_page(pfn + i));
		if ((i & 511) == 511)
			cond_resched();
	}
}

/*
 * nr physically contiguous, zeroed pages of this size from node nid, one
 * range aligned to its own size when that is a power of two.  The search
 * adds what it saw to *scan, for the pool's counters.
 */
struct page *hpa_pages_alloc_range(int nid, enum hpa_size size,
				   unsigned int nr, bool *compound,
				   struct hpa_scan *scan)
{
	unsigned long nr_base = (unsigned long)nr << hpa_size_order(size);
	unsigned long align = 1UL << hpa_size_order(size);

	if (nid < 0 || nid >= MAX_NUMNODES || !node_state(nid, N_MEMORY))
		return NULL;
	if (is_power_of_2(nr_base))
		align = nr_base;
	return hpa_alloc_contig_node(nid, size, nr_base, align, compound,
				     scan);
}

/* Give a page or range back to the page allocator. */
void hpa_pages_free(struct page *page, unsigned long nr_base, bool compound)
{
	int nid = page_to_nid(page);

	atomic_long_sub(nr_base, &hpa_pages_held);
	if (compound)
		put_page(page);
	else
		free_contig_range(page_to_pfn(page), nr_base);
	atomic_long_inc(&hpa_node_released[nid]);
}

/* Does anyone but us hold a reference on this page or range? */
bool hpa_pages_pinned(struct page *page, unsigned long nr_base, bool compound)
{
	unsigned long pfn = page_to_pfn(page);
	unsigned long i;

	if (compound)
		return page_ref_count(page) != 1;
	for (i = 0; i < nr_base; i++)
		if (page_ref_count(pfn_to_page(pfn + i)) != 1)
			return true;
	return false;
}

/*
 * Zero what is not zero in [pfn, pfn + nr), a range just taken back from
 * the page allocator: it was free for a while, and whoever had a page of
 * it in between may have written to it.  Returns how many 2 MiB pieces
 * had to be zeroed; a clean piece is read, never written.
 */
static unsigned int hpa_pages_clean(unsigned long pfn, unsigned long nr)
{
	unsigned long i, j, piece = 1UL << PMD_ORDER;
	unsigned int dirty = 0;

	for (i = 0; i < nr; i += piece) {
		bool zeroed = false;

		for (j = 0; j < piece; j++) {
			struct page *page = pfn_to_page(pfn + i + j);
			void *addr = kmap_local_page(page);
			bool clean = !memchr_inv(addr, 0, PAGE_SIZE);

			kunmap_local(addr);
			if (!clean) {
				clear_highpage(page);
				zeroed = true;
			}
		}
		dirty += zeroed;
		cond_resched();
	}
	return dirty;
}

/*
 * Take [pfn, pfn + nr) back from the page allocator, which had it for a
 * moment, as one compound folio or as order-0 pages, and make it zero.
 * Movable pages that landed there are migrated away (HPA_CONTIG_TRIES
 * attempts).  With init_on_alloc set (Debian's default) the allocator has
 * cleared the range as it handed it over, which a module cannot avoid;
 * otherwise each piece is read and only a written one is zeroed.  Returns
 * 0 or -errno; *dirty counts pieces this zeroed.
 */
static int hpa_pages_retake(unsigned long pfn, unsigned long nr,
			    bool compound, unsigned int *dirty)
{
	gfp_t gfp = HPA_CONTIG_GFP;
	int ret = -EBUSY, tries;

	if (compound)
		gfp |= HPALLOC_CONTIG_GFP_COMP;
	for (tries = 0; tries < HPA_CONTIG_TRIES && ret == -EBUSY; tries++) {
		ret = hpa_contig_range(pfn, nr, gfp);
		cond_resched();
	}
	if (ret)
		return ret;
	atomic_long_add(nr, &hpa_pages_held);
	if (!want_init_on_alloc(0))
		*dirty += hpa_pages_clean(pfn, nr);
	return 0;
}

/*
 * A 1 GiB page becomes 512 2 MiB pages, put on pieces (by lru).  When it
 * is 262144 order-0 pages (see compat.h), every 2 MiB run of them already
 * is a 2 MiB page that is not compound: nothing to do but count.  A 1 GiB
 * folio goes back to the page allocator and each 2 MiB of it is taken
 * back as an order-9 folio, the form GUP needs.  Returns the number of
 * pieces; those that could not be taken back are lost to the pool.
 */
static unsigned int hpa_split_1g(struct page *gib, struct list_head *pieces,
				 unsigned int *dirty)
{
	unsigned long pfn = page_to_pfn(gib), piece = 1UL << PMD_ORDER, i;
	unsigned int n = 0;

	if (!hpa_page_compound(gib)) {
		for (i = 0; i < HPA_OWN_SLOTS; i++)
			list_add_tail(&pfn_to_page(pfn + i * piece)->lru,
				      pieces);
		return HPA_OWN_SLOTS;
	}
	hpa_pages_free(gib, 1UL << PUD_ORDER, true);
	for (i = 0; i < HPA_OWN_SLOTS; i++) {
		unsigned long p = pfn + i * piece;

		if (hpa_pages_retake(p, piece, true, dirty))
			continue;
		list_add_tail(&pfn_to_page(p)->lru, pieces);
		n++;
	}
	return n;
}

/*
 * The 512 2 MiB pages on pieces, which make up the aligned GiB at pfn,
 * become one 1 GiB page in the form of the 1 GiB pool (compat.h).  With
 * order-0 1 GiB pages, only compound pieces change: each goes back to the
 * page allocator and comes back as order-0 pages.  For a 1 GiB folio the
 * whole GiB goes back and comes back as one folio.  Returns the page, or
 * NULL with the pieces that could be had again on pieces (as 2 MiB pages)
 * and *lost counting the others.
 */
static struct page *hpa_merge_1g(unsigned long pfn,
				 struct list_head *pieces,
				 unsigned int *dirty, unsigned int *lost)
{
	unsigned long piece = 1UL << PMD_ORDER, i;
	struct page *page, *next;

	if (!HPALLOC_CONTIG_COMPOUND) {
		list_for_each_entry_safe(page, next, pieces, lru) {
			if (!hpa_page_compound(page))
				continue;
			list_del_init(&page->lru);
			hpa_pages_free(page, piece, true);
			if (hpa_pages_retake(page_to_pfn(page), piece, false,
					     dirty)) {
				(*lost)++;
				continue;
			}
			list_add_tail(&page->lru, pieces);
		}
		if (*lost)
			return NULL;
		list_for_each_entry_safe(page, next, pieces, lru)
			list_del_init(&page->lru);
		return pfn_to_page(pfn);
	}

	list_for_each_entry_safe(page, next, pieces, lru) {
		list_del_init(&page->lru);
		hpa_pages_free(page, piece, hpa_page_compound(page));
	}
	if (!hpa_pages_retake(pfn, 1UL << PUD_ORDER, true, dirty))
		return pfn_to_page(pfn);
	for (i = 0; i < HPA_OWN_SLOTS; i++) {
		unsigned long p = pfn + i * piece;

		if (hpa_pages_retake(p, piece, true, dirty)) {
			(*lost)++;
			continue;
		}
		list_add_tail(&pfn_to_page(p)->lru, pieces);
	}
	return NULL;
}

/*
 * A conversion runs in a worker of hpa_wq while its caller waits:
 * alloc_contig_range() gives up on a fatal signal of the task it runs in,
 * and memory given back for a moment must be taken back whoever asked.
 */
struct hpa_convert_work {
	struct work_struct work;
	bool merge;
	struct page *gib;		/* split: the page; merge: the result */
	unsigned long pfn;		/* merge: the GiB */
	struct list_head *pieces;
	unsigned int n, dirty, lost;
};

static void hpa_convert_worker(struct work_struct *work)
{
	struct hpa_convert_work *cw = container_of(work,
						   struct hpa_convert_work,
						   work);

	if (cw->merge)
		cw->gib = hpa_merge_1g(cw->pfn, cw->pieces, &cw->dirty,
				       &cw->lost);
	else
		cw->n = hpa_split_1g(cw->gib, cw->pieces, &cw->dirty);
}

static void hpa_convert_run(struct hpa_convert_work *cw)
{
	INIT_WORK_ONSTACK(&cw->work, hpa_convert_worker);
	queue_work(hpa_wq, &cw->work);
	flush_work(&cw->work);
	destroy_work_on_stack(&cw->work);
}

unsigned int hpa_pages_split_1g(struct page *gib, struct list_head *pieces,
				unsigned int *dirty)
{
	struct hpa_convert_work cw = { .gib = gib, .pieces = pieces };

	hpa_convert_run(&cw);
	*dirty += cw.dirty;
	return cw.n;
}

struct page *hpa_pages_merge_1g(unsigned long pfn, struct list_head *pieces,
				unsigned int *dirty, unsigned int *lost)
{
	struct hpa_convert_work cw = {
		.merge = true, .pfn = pfn, .pieces = pieces,
	};

	hpa_convert_run(&cw);
	*dirty += cw.dirty;
	*lost += cw.lost;
	return cw.gib;
}

/* A node counter; node_page_state() is not exported. */
static unsigned long hpa_node_stat(pg_data_t *pgdat, enum node_stat_item item)
{
	long x = atomic_long_read(&pgdat->vm_stat[item]);

	return x < 0 ? 0 : x;
}

/*
 * Base pages node nid could give at most: its free memory plus what reclaim
 * could free there (page cache, reclaimable slab, and anonymous memory when
 * there is swap to put it in).
 */
static unsigned long hpa_node_obtainable(int nid)
{
	pg_data_t *pgdat = NODE_DATA(nid);
	unsigned long n;
	int z;

	n = hpa_node_stat(pgdat, NR_ACTIVE_FILE) +
	    hpa_node_stat(pgdat, NR_INACTIVE_FILE) +
	    hpa_node_stat(pgdat, NR_SLAB_RECLAIMABLE_B);
	if (get_nr_swap_pages() > 0)
		n += hpa_node_stat(pgdat, NR_ACTIVE_ANON) +
		     hpa_node_stat(pgdat, NR_INACTIVE_ANON);
	for (z = 0; z < MAX_NR_ZONES; z++)
		n += zone_page_state(&pgdat->node_zones[z], NR_FREE_PAGES);
	return n;
}

/*
 * The most pages of this size an allocation could get on node nid: the
 * pool's free pages and those being zeroed, what converting the node's
 * other pool could give, and, with overcommit, what the node could give.
 * An upper bound, cheap to compute, so that a request far beyond it is
 * refused at once instead of draining the node first.
 */
unsigned long hpa_node_capacity(int nid, enum hpa_size size)
{
	struct hpa_pool *pool = hpa_pool_of(nid, size);
	unsigned long n;

	if (!pool)
		return 0;
	n = hpa_pool_nr_ready(pool) + hpa_pool_nr_convertible(pool);
	if (READ_ONCE(hpa_overcommit))
		n += hpa_node_obtainable(nid) >> hpa_size_order(size);
	return n;
}

/*
 * Would [pfn, pfn + nr) be free of unmovable pages once the free 2 MiB
 * pool pages marked in own[] (one bit per 2 MiB) were given back?
 */
bool hpa_range_clearable(unsigned long pfn, unsigned long nr,
			 const unsigned long *own)
{
	struct page *page = pfn_to_online_page(pfn);
	struct zone *zone;

	if (!page)
		return false;
	zone = page_zone(page);
	if (pfn + nr > zone_end_pfn(zone))
		return false;
	return hpa_range_state(zone, pfn, nr, own) <= HPA_RANGE_OWN_2M;
}

/* Changes whenever node nid gets memory back from us. */
long hpa_node_release_seq(int nid)
{
	return atomic_long_read(&hpa_node_released[nid]);
}

/* At unload: did every page taken from the page allocator go back? */
bool hpa_pages_all_returned(void)
{
	long held = atomic_long_read(&hpa_pages_held);

	if (!held)
		return true;
	pr_err("leak: %ld pages (%ld MiB) taken from the page allocator were not given back\n",
	       held, held >> (20 - PAGE_SHIFT));
	return false;
}

