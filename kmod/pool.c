// SPDX-License-Identifier: GPL-2.0
/*
 * Per-node pools of 2 MiB and 1 GiB pages.
 *
 * 2 MiB pages are order-9 compound pages from the buddy allocator, 1 GiB
 * pages are found by scanning a node's zones for a free, aligned range that
 * alloc_contig_range() can take (migrating movable pages away), as the
 * kernel's own run-time gigantic pages are.  A page that comes back from a
 * buffer is zeroed by a worker before it is handed out again, so faults
 * never wait for clear_page(), and a page that someone else still holds a
 * reference on (a GUP pin: O_DIRECT, vmsplice ...) is neither zeroed nor
 * reused until that reference goes.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bsearch.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/swap.h>
#include <linux/vmstat.h>

#include "compat.h"
#include "internal.h"

static struct hpa_pool *hpa_pools[MAX_NUMNODES][HPA_NR_SIZES];
static unsigned long hpa_initial[HPA_NR_SIZES][MAX_NUMNODES];
static struct shrinker *hpa_shrinker;
/* base pages taken from the page allocator and not given back yet */
static atomic_long_t hpa_pages_held = ATOMIC_LONG_INIT(0);
/* Ranges given back to the page allocator per node, for hpa_pool_take() */
static atomic_long_t hpa_node_released[MAX_NUMNODES];

static void hpa_pool_release_page(struct hpa_pool *pool, struct page *page);

static char *pages_2m;
module_param(pages_2m, charp, 0444);
MODULE_PARM_DESC(pages_2m,
		 "2 MiB pages to put in each node's pool at load: NODE:COUNT[,NODE:COUNT...]");
static char *pages_1g;
module_param(pages_1g, charp, 0444);
MODULE_PARM_DESC(pages_1g,
		 "1 GiB pages to put in each node's pool at load: NODE:COUNT[,NODE:COUNT...]");

struct hpa_pool *hpa_pool_get(int nid, enum hpa_size size)
{
	if (nid < 0 || nid >= MAX_NUMNODES || size >= HPA_NR_SIZES)
		return NULL;
	return hpa_pools[nid][size];
}

static unsigned long hpa_pool_total(const struct hpa_pool *pool)
{
	return pool->nr_free + pool->nr_in_use + pool->nr_zeroing;
}

/*
 * "0:64,1:64" -> hpa_initial[size][0] = 64, [1] = 64.  Every node named must
 * have memory; anything else fails the load with a message saying why.
 */
static int hpa_parse_counts(const char *name, const char *val,
			    enum hpa_size size)
{
	char *buf, *cur, *item;
	int ret = 0;

	if (!val || !*val)
		return 0;
	buf = kstrdup(val, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	cur = buf;
	while ((item = strsep(&cur, ",")) != NULL) {
		char *count_str = strchr(item, ':');
		unsigned int nid;
		unsigned long count;

		if (!count_str) {
			pr_err("%s=%s: \"%s\" is not NODE:COUNT\n",
			       name, val, item);
			ret = -EINVAL;
			break;
		}
		*count_str++ = '\0';
		if (kstrtouint(item, 10, &nid) ||
		    kstrtoul(count_str, 10, &count)) {
			pr_err("%s=%s: \"%s:%s\" is not NODE:COUNT in decimal\n",
			       name, val, item, count_str);
			ret = -EINVAL;
			break;
		}
		if (nid >= MAX_NUMNODES || !node_state(nid, N_MEMORY)) {
			pr_err("%s=%s: node %u has no memory\n", name, val,
			       nid);
			ret = -EINVAL;
			break;
		}
		if (count > (totalram_pages() >> hpa_size_order(size))) {
			pr_err("%s=%s: %lu pages is more than the machine has\n",
			       name, val, count);
			ret = -EINVAL;
			break;
		}
		hpa_initial[size][nid] = count;
	}
	kfree(buf);
	return ret;
}

/* A 2 MiB page: one order-9 compound page from this node only. */
static struct page *hpa_alloc_2m(int nid)
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

/* What one search for a range saw, added to the pool's counters after. */
struct hpa_scan {
	unsigned long tried, unmovable, pinned, busy, own_2m;
};

/* Ranges up to this size can be freed of the pool's own 2 MiB pages. */
#define HPA_OWN_SLOTS		(1U << (PUD_ORDER - PMD_ORDER))

/*
 * Mark in own[] (one bit per 2 MiB of the range starting at pfn) the free
 * pages of the 2 MiB pool that lie in the range.  Returns how many.
 */
static unsigned int hpa_pool_own_in_range(struct hpa_pool *small,
					  unsigned long pfn, unsigned long nr,
					  unsigned long *own)
{
	unsigned int n = 0;
	struct page *page;

	bitmap_zero(own, HPA_OWN_SLOTS);
	spin_lock(&small->lock);
	list_for_each_entry(page, &small->free_list, lru) {
		unsigned long p = page_to_pfn(page);

		if (p >= pfn && p + (1UL << PMD_ORDER) <= pfn + nr) {
			__set_bit((p - pfn) >> PMD_ORDER, own);
			n++;
		}
	}
	spin_unlock(&small->lock);
	return n;
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
		if (own && IS_ALIGNED(pfn - start, 1UL << PMD_ORDER) &&
		    test_bit((pfn - start) >> PMD_ORDER, own)) {
			saw_own = true;
			pfn += (1UL << PMD_ORDER) - 1;
			continue;
		}
		if (!page_ref_count(page))
			continue;	/* free, or the tail of a free block */
		folio = page_folio(page);
		if (folio_test_lru(folio) || __folio_test_movable(folio)) {
			if (folio_test_lru(folio) &&
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
 * Give the 2 MiB pool's free pages in [pfn, pfn + nr) back to the page
 * allocator, so that the range can become a 1 GiB page: above the pool's
 * minimum only, and its target falls with them as with the shrinker.
 */
static unsigned long hpa_pool_release_in_range(struct hpa_pool *small,
					       unsigned long pfn,
					       unsigned long nr)
{
	struct page *page, *next;
	unsigned long n = 0;
	LIST_HEAD(out);

	spin_lock(&small->lock);
	list_for_each_entry_safe(page, next, &small->free_list, lru) {
		unsigned long p = page_to_pfn(page);

		if (p < pfn || p >= pfn + nr)
			continue;
		if (hpa_pool_total(small) <= small->min)
			break;
		list_move(&page->lru, &out);
		small->nr_free--;
		if (small->target > small->min)
			small->target--;
		small->released_for_1g++;
	}
	spin_unlock(&small->lock);
	list_for_each_entry_safe(page, next, &out, lru) {
		list_del_init(&page->lru);
		hpa_pool_release_page(small, page);
		n++;
	}
	return n;
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
		ret = alloc_contig_range(pfn, pfn + nr_base, MIGRATE_MOVABLE,
					 gfp);
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

static void hpa_pool_note_scan(struct hpa_pool *pool,
			       const struct hpa_scan *scan)
{
	spin_lock(&pool->lock);
	pool->ranges_tried += scan->tried;
	pool->ranges_unmovable += scan->unmovable;
	pool->ranges_pinned += scan->pinned;
	pool->ranges_busy += scan->busy;
	pool->ranges_own_2m += scan->own_2m;
	spin_unlock(&pool->lock);
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
 * align_base (a power of two), for pool (whose counters say what the search
 * saw).  Ranges that hold free pages of the node's 2 MiB pool are looked at
 * only after every other range failed: a 2 MiB page is given up for a
 * range only when no range can be had without.  *compound says whether the
 * range came back as one compound folio (see compat.h).  May sleep a long
 * time: stops on a fatal signal.
 */
static struct page *hpa_alloc_contig_node(struct hpa_pool *pool,
					  unsigned long nr_base,
					  unsigned long align_base,
					  bool *compound)
{
	int nid = pool->nid;
	pg_data_t *pgdat = NODE_DATA(nid);
	bool want_comp = HPALLOC_CONTIG_COMPOUND && is_power_of_2(nr_base) &&
			 align_base >= nr_base;
	gfp_t gfp = GFP_KERNEL | __GFP_NOWARN | __GFP_RETRY_MAYFAIL;
	struct hpa_pool *small = NULL;
	struct hpa_scan scan = { };
	struct page *found = NULL;
	int pass, z, err = 0;

	if (pool->size != HPA_2M)
		small = hpa_pool_get(nid, HPA_2M);
	if (want_comp)
		gfp |= HPALLOC_CONTIG_GFP_COMP;
	for (pass = 0; pass < HPA_NR_PASSES && !found && !err; pass++) {
		for (z = 0; z < MAX_NR_ZONES && !found && !err; z++) {
			struct zone *zone = &pgdat->node_zones[z];

			if (!populated_zone(zone) || zone_is_zone_device(zone))
				continue;
			found = hpa_search_zone(zone, nr_base, align_base, gfp,
						small, pass, &scan, &err);
		}
	}
	if (found) {
		*compound = want_comp;
		atomic_long_add(nr_base, &hpa_pages_held);
	}
	hpa_pool_note_scan(pool, &scan);
	if (!found && !err)
		pr_info_ratelimited("node%d: no free %lu MiB range: %lu attempts; ranges given up: %lu unmovable, %lu pinned, %lu busy\n",
				    nid, nr_base >> (20 - PAGE_SHIFT),
				    scan.tried, scan.unmovable, scan.pinned,
				    scan.busy);
	return found;
}

/* Clear nr base pages starting at page; they may be non-compound. */
static void hpa_zero_range(struct page *page, unsigned long nr)
{
	unsigned long pfn = page_to_pfn(page);
	unsigned long i;

	for (i = 0; i < nr; i++) {
		clear_highpage(pfn_to_page(pfn + i));
		if ((i & 511) == 511)
			cond_resched();
	}
}

struct page *hpa_alloc_range(int nid, enum hpa_size size, unsigned int nr,
			     bool *compound)
{
	unsigned long nr_base = (unsigned long)nr << hpa_size_order(size);
	unsigned long align = 1UL << hpa_size_order(size);
	struct hpa_pool *pool = hpa_pool_get(nid, size);
	struct page *page;

	if (!pool)
		return NULL;
	if (is_power_of_2(nr_base))
		align = nr_base;
	page = hpa_alloc_contig_node(pool, nr_base, align, compound);
	/* the allocator zeroes the range only when init_on_alloc is set */
	if (page && !want_init_on_alloc(0))
		hpa_zero_range(page, nr_base);
	return page;
}

/* Give a page or range back to the page allocator. */
void hpa_free_range(struct page *page, unsigned long nr_base, bool compound)
{
	atomic_long_sub(nr_base, &hpa_pages_held);
	int nid = page_to_nid(page);

	if (compound)
		put_page(page);
	else
		free_contig_range(page_to_pfn(page), nr_base);
	atomic_long_inc(&hpa_node_released[nid]);
}

/* Does anyone but us hold a reference on this page or range? */
bool hpa_page_pinned(struct page *page, unsigned long nr_base, bool compound)
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
 * pool's free pages and those being zeroed, and, with overcommit, what the
 * node could give.  An upper bound, cheap to compute, so that a request
 * far beyond it is refused at once instead of draining the node first.
 */
unsigned long hpa_node_capacity(int nid, enum hpa_size size)
{
	struct hpa_pool *pool = hpa_pool_get(nid, size);
	unsigned long n;

	if (!pool)
		return 0;
	n = READ_ONCE(pool->nr_free) + READ_ONCE(pool->nr_zeroing);
	if (READ_ONCE(hpa_overcommit))
		n += hpa_node_obtainable(nid) >> pool->order;
	return n;
}

/* A request the pool could not serve (refused early, or nothing left). */
void hpa_pool_note_failure(struct hpa_pool *pool)
{
	spin_lock(&pool->lock);
	pool->failures++;
	spin_unlock(&pool->lock);
}

/* Pool pages: 2 MiB pages are always compound, 1 GiB pages per compat.h. */
static bool hpa_pool_compound(const struct hpa_pool *pool)
{
	return pool->size == HPA_2M || HPALLOC_CONTIG_COMPOUND;
}

static struct page *hpa_pool_alloc_page(struct hpa_pool *pool)
{
	bool compound;

	if (pool->size == HPA_2M)
		return hpa_alloc_2m(pool->nid);
	return hpa_alloc_range(pool->nid, HPA_1G, 1, &compound);
}

static void hpa_pool_release_page(struct hpa_pool *pool, struct page *page)
{
	hpa_free_range(page, 1UL << pool->order, hpa_pool_compound(pool));
}

/* A zeroed page off the free list, or NULL. */
static struct page *hpa_pool_take_free(struct hpa_pool *pool)
{
	struct page *page;

	spin_lock(&pool->lock);
	page = list_first_entry_or_null(&pool->free_list, struct page, lru);
	if (page) {
		list_del_init(&page->lru);
		pool->nr_free--;
		pool->nr_in_use++;
		pool->allocs++;
	}
	spin_unlock(&pool->lock);
	return page;
}

/*
 * Pages on their way out of this node's pools (being zeroed, or released
 * above target) still hold memory a fresh page may need: a 1 GiB range is
 * often blocked by the 1 GiB or 2 MiB pages that a process freed a moment
 * ago.  Counted until the page allocator has them back.
 */
static bool hpa_pool_releasing(struct hpa_pool *pool)
{
	struct hpa_pool *small = NULL;

	if (pool->size == HPA_1G)
		small = hpa_pool_get(pool->nid, HPA_2M);
	return READ_ONCE(pool->nr_zeroing) ||
	       (small && READ_ONCE(small->nr_zeroing));
}

static void hpa_pool_wait_releasing(struct hpa_pool *pool)
{
	flush_work(&pool->zero_work);
	if (pool->size == HPA_1G)
		flush_work(&hpa_pool_get(pool->nid, HPA_2M)->zero_work);
}

/* Wait for the node's pages on their way out; false if there were none. */
bool hpa_pool_wait_for_zeroing(struct hpa_pool *pool)
{
	if (!hpa_pool_releasing(pool))
		return false;
	hpa_pool_wait_releasing(pool);
	return true;
}

/* Tries of hpa_pool_take(): each after memory came back to the node. */
#define HPA_TAKE_TRIES	3

/*
 * Hand out one zeroed page: from the free list, else (overcommit) a fresh
 * one from the page allocator, else one that is being zeroed or released
 * right now (a 1 GiB page freed a moment ago is the only one its node
 * has).  A search that failed while pages of the node were on their way
 * back is tried again once they are back, whether or not they still are
 * when it ends: a range freed during the search was seen busy.  Returns
 * NULL and counts a failure if there is none.
 */
struct page *hpa_pool_take(struct hpa_pool *pool)
{
	atomic_long_t *released = &hpa_node_released[pool->nid];
	struct page *page;
	int tries;

	for (tries = 0; tries < HPA_TAKE_TRIES; tries++) {
		long seq;
		bool releasing;

		page = hpa_pool_take_free(pool);
		if (page)
			return page;
		seq = atomic_long_read(released);
		releasing = hpa_pool_releasing(pool);
		if (READ_ONCE(hpa_overcommit))
			page = hpa_pool_alloc_page(pool);
		if (page) {
			spin_lock(&pool->lock);
			pool->nr_in_use++;
			pool->allocs++;
			spin_unlock(&pool->lock);
			return page;
		}
		if (fatal_signal_pending(current))
			break;
		if (releasing || hpa_pool_releasing(pool))
			hpa_pool_wait_releasing(pool);
		else if (atomic_long_read(released) == seq)
			break;
	}
	hpa_pool_note_failure(pool);
	return NULL;
}

void hpa_pool_note_contig(struct hpa_pool *pool, bool failed)
{
	spin_lock(&pool->lock);
	pool->contig_requests++;
	if (failed)
		pool->contig_failures++;
	spin_unlock(&pool->lock);
}

static int hpa_cmp_pfn(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/*
 * Take nr free pages that are physically adjacent, lowest first, into
 * pages[].  Returns 0 or -ENOMEM when the free list has no such run.
 */
int hpa_pool_take_contig(struct hpa_pool *pool, unsigned int nr,
			 struct page **pages)
{
	unsigned long stride = 1UL << pool->order;
	unsigned long *pfns, cap, n = 0, i, run = 1;
	struct page *page;
	int ret = -ENOMEM;

	cap = READ_ONCE(pool->nr_free);
	if (cap < nr)
		return -ENOMEM;
	pfns = kvmalloc_array(cap, sizeof(*pfns), GFP_KERNEL);
	if (!pfns)
		return -ENOMEM;

	spin_lock(&pool->lock);
	list_for_each_entry(page, &pool->free_list, lru) {
		if (n == cap)
			break;
		pfns[n++] = page_to_pfn(page);
	}
	sort(pfns, n, sizeof(*pfns), hpa_cmp_pfn, NULL);
	for (i = 0; i < n; i++) {
		if (i && pfns[i] == pfns[i - 1] + stride)
			run++;
		else
			run = 1;
		if (run == nr)
			break;
	}
	if (nr && i < n && run == nr) {
		unsigned long first = pfns[i] - (nr - 1) * stride;

		for (i = 0; i < nr; i++) {
			pages[i] = pfn_to_page(first + i * stride);
			list_del_init(&pages[i]->lru);
		}
		pool->nr_free -= nr;
		pool->nr_in_use += nr;
		pool->allocs += nr;
		ret = 0;
	}
	spin_unlock(&pool->lock);
	kvfree(pfns);
	return ret;
}

/*
 * Undo hpa_pool_take() for a page nobody has seen (a failed allocation):
 * it is still zero, so it goes straight back, and a retry finds it.
 */
void hpa_pool_untake(struct hpa_pool *pool, struct page *page)
{
	spin_lock(&pool->lock);
	pool->nr_in_use--;
	pool->allocs--;
	if (hpa_pool_total(pool) < pool->target) {
		pool->nr_free++;
		list_add(&page->lru, &pool->free_list);
		page = NULL;
	}
	spin_unlock(&pool->lock);
	if (page)
		hpa_pool_release_page(pool, page);
}

/* A buffer is done with a page: zero it in the worker, then reuse it. */
void hpa_pool_give_back(struct hpa_pool *pool, struct page *page)
{
	spin_lock(&pool->lock);
	pool->nr_in_use--;
	pool->nr_zeroing++;
	list_add_tail(&page->lru, &pool->dirty_list);
	spin_unlock(&pool->lock);
	queue_work(hpa_wq, &pool->zero_work);
}

/*
 * Release a page the zeroing worker holds.  It stays counted as zeroing
 * until the page allocator has it back: freeing a 1 GiB range of order-0
 * pages takes a while, and whoever waits for the counters to settle must
 * then find the range free.
 */
static void hpa_pool_release_zeroing(struct hpa_pool *pool, struct page *page)
{
	hpa_pool_release_page(pool, page);
	spin_lock(&pool->lock);
	pool->nr_zeroing--;
	spin_unlock(&pool->lock);
}

static void hpa_pool_zero_worker(struct work_struct *work)
{
	struct hpa_pool *pool = container_of(work, struct hpa_pool, zero_work);
	unsigned long nr_base = 1UL << pool->order;
	bool compound = hpa_pool_compound(pool);
	bool pinned_any = false;

	for (;;) {
		struct page *page;
		bool surplus;

		spin_lock(&pool->lock);
		page = list_first_entry_or_null(&pool->dirty_list,
						struct page, lru);
		if (!page) {
			spin_unlock(&pool->lock);
			break;
		}
		list_del_init(&page->lru);
		surplus = hpa_pool_total(pool) > pool->target;
		/* put_page() is safe with pins: they free the folio later */
		if (!(surplus && compound) &&
		    hpa_page_pinned(page, nr_base, compound)) {
			list_add_tail(&page->lru, &pool->pinned_list);
			spin_unlock(&pool->lock);
			pinned_any = true;
			continue;
		}
		spin_unlock(&pool->lock);
		if (surplus) {
			hpa_pool_release_zeroing(pool, page);
			continue;
		}

		hpa_zero_range(page, nr_base);

		/* the target may have fallen while we were zeroing */
		spin_lock(&pool->lock);
		pool->zeroed++;
		surplus = hpa_pool_total(pool) > pool->target;
		if (!surplus) {
			pool->nr_zeroing--;
			pool->nr_free++;
			list_add_tail(&page->lru, &pool->free_list);
		}
		spin_unlock(&pool->lock);
		if (surplus)
			hpa_pool_release_zeroing(pool, page);
		cond_resched();
	}
	/* under the lock: hpa_pool_destroy() stops the requeueing with it */
	spin_lock(&pool->lock);
	if (pinned_any && !pool->dying)
		queue_delayed_work(hpa_wq, &pool->pinned_work, HZ / 10);
	spin_unlock(&pool->lock);
}

/* Pages still pinned go back to the zeroing worker every 100 ms. */
static void hpa_pool_pinned_worker(struct work_struct *work)
{
	struct hpa_pool *pool = container_of(to_delayed_work(work),
					     struct hpa_pool, pinned_work);

	spin_lock(&pool->lock);
	list_splice_tail_init(&pool->pinned_list, &pool->dirty_list);
	if (!pool->dying)
		queue_work(hpa_wq, &pool->zero_work);
	spin_unlock(&pool->lock);
}

/* One 1 GiB range with free pages of a 2 MiB pool in it. */
struct hpa_gib {
	unsigned long gib;		/* pfn >> PUD_ORDER */
	unsigned long nr;		/* free pool pages in it */
	struct list_head pages;
};

static int hpa_cmp_gib(const void *a, const void *b)
{
	unsigned long x = ((const struct hpa_gib *)a)->gib;
	unsigned long y = ((const struct hpa_gib *)b)->gib;

	return x < y ? -1 : x > y;
}

static int hpa_cmp_gib_key(const void *key, const void *elt)
{
	unsigned long x = *(const unsigned long *)key;
	unsigned long y = ((const struct hpa_gib *)elt)->gib;

	return x < y ? -1 : x > y;
}

static int hpa_cmp_gib_nr(const void *a, const void *b)
{
	const struct hpa_gib *x = *(struct hpa_gib * const *)a;
	const struct hpa_gib *y = *(struct hpa_gib * const *)b;

	return x->nr < y->nr ? -1 : x->nr > y->nr;
}

/* Would [pfn, pfn + 1 GiB) be free of unmovable pages without pool's? */
static bool hpa_gib_clearable(struct hpa_pool *pool, unsigned long pfn)
{
	DECLARE_BITMAP(own, HPA_OWN_SLOTS);
	unsigned long nr = 1UL << PUD_ORDER;
	struct page *page = pfn_to_online_page(pfn);
	struct zone *zone;

	if (!page)
		return false;
	zone = page_zone(page);
	if (pfn + nr > zone_end_pfn(zone))
		return false;
	hpa_pool_own_in_range(pool, pfn, nr, own);
	return hpa_range_state(zone, pfn, nr, own) <= HPA_RANGE_OWN_2M;
}

/*
 * Before a 2 MiB pool shrinks, put at the head of its free list (which
 * shrinking gives back first) the pages of the 1 GiB ranges that would
 * then hold no unmovable page, the range with the fewest of them first:
 * a shrink gives back whole ranges that can become 1 GiB pages, and the
 * pages in ranges that something else keeps broken anyway stay longest.
 */
static void hpa_pool_order_for_shrink(struct hpa_pool *pool)
{
	unsigned long cap = READ_ONCE(pool->nr_free), n = 0, m = 0, i;
	struct hpa_gib *gibs, **by_nr;
	struct page *page, *next;

	if (pool->size != HPA_2M || !cap)
		return;
	gibs = kvmalloc_array(cap, sizeof(*gibs), GFP_KERNEL);
	by_nr = kvmalloc_array(cap, sizeof(*by_nr), GFP_KERNEL);
	if (!gibs || !by_nr)
		goto free_arrays;

	spin_lock(&pool->lock);
	list_for_each_entry(page, &pool->free_list, lru) {
		if (n == cap)
			break;
		gibs[n++].gib = page_to_pfn(page) >> PUD_ORDER;
	}
	spin_unlock(&pool->lock);
	sort(gibs, n, sizeof(*gibs), hpa_cmp_gib, NULL);
	/* one entry per range, kept only if it could become free */
	for (i = 0; i < n; i++) {
		if (m && gibs[m - 1].gib == gibs[i].gib) {
			gibs[m - 1].nr++;
			continue;
		}
		if (m && !hpa_gib_clearable(pool, gibs[m - 1].gib << PUD_ORDER))
			m--;
		gibs[m].gib = gibs[i].gib;
		gibs[m].nr = 1;
		INIT_LIST_HEAD(&gibs[m].pages);
		m++;
		cond_resched();
	}
	if (m && !hpa_gib_clearable(pool, gibs[m - 1].gib << PUD_ORDER))
		m--;
	if (!m)
		goto free_arrays;
	for (i = 0; i < m; i++)
		by_nr[i] = &gibs[i];
	sort(by_nr, m, sizeof(*by_nr), hpa_cmp_gib_nr, NULL);

	spin_lock(&pool->lock);
	list_for_each_entry_safe(page, next, &pool->free_list, lru) {
		unsigned long gib = page_to_pfn(page) >> PUD_ORDER;
		struct hpa_gib *g = bsearch(&gib, gibs, m, sizeof(*gibs),
					    hpa_cmp_gib_key);

		if (g)
			list_move_tail(&page->lru, &g->pages);
	}
	for (i = m; i-- > 0; )
		list_splice(&by_nr[i]->pages, &pool->free_list);
	spin_unlock(&pool->lock);

free_arrays:
	kvfree(by_nr);
	kvfree(gibs);
}

/*
 * Grow or shrink a pool to target pages.  Shrinking releases free pages
 * only; pages in use go when they come back.  Growing stops at the first
 * page the node cannot give, and the target then says how many there are.
 */
int hpa_pool_resize(struct hpa_pool *pool, unsigned long target)
{
	int ret = 0;

	mutex_lock(&pool->resize_lock);
	if (target < READ_ONCE(pool->nr_free) + READ_ONCE(pool->nr_in_use) +
		     READ_ONCE(pool->nr_zeroing))
		hpa_pool_order_for_shrink(pool);
	spin_lock(&pool->lock);
	pool->target = target;
	while (hpa_pool_total(pool) > target && pool->nr_free) {
		struct page *page = list_first_entry(&pool->free_list,
						     struct page, lru);

		list_del_init(&page->lru);
		pool->nr_free--;
		spin_unlock(&pool->lock);
		hpa_pool_release_page(pool, page);
		cond_resched();
		spin_lock(&pool->lock);
	}
	while (hpa_pool_total(pool) < pool->target) {
		struct page *page;

		spin_unlock(&pool->lock);
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			page = NULL;
		} else {
			page = hpa_pool_alloc_page(pool);
		}
		spin_lock(&pool->lock);
		if (!page) {
			if (!ret)
				pool->failures++;
			pool->target = hpa_pool_total(pool);
			break;
		}
		list_add_tail(&page->lru, &pool->free_list);
		pool->nr_free++;
	}
	spin_unlock(&pool->lock);
	mutex_unlock(&pool->resize_lock);
	return ret;
}

void hpa_pool_set_min(struct hpa_pool *pool, unsigned long min)
{
	spin_lock(&pool->lock);
	pool->min = min;
	spin_unlock(&pool->lock);
}

/* Free pages above the pool's minimum, in base pages. */
static unsigned long hpa_pool_reclaimable(struct hpa_pool *pool)
{
	unsigned long total = hpa_pool_total(pool);
	unsigned long n = 0;

	if (total > pool->min)
		n = min(pool->nr_free, total - pool->min);
	return n << pool->order;
}

static unsigned long hpa_shrink_count(struct shrinker *s,
				      struct shrink_control *sc)
{
	unsigned long n = 0;
	int size;

	for (size = 0; size < HPA_NR_SIZES; size++) {
		struct hpa_pool *pool = hpa_pool_get(sc->nid, size);

		if (pool)
			n += hpa_pool_reclaimable(pool);
	}
	return n ? n : SHRINK_EMPTY;
}

static unsigned long hpa_shrink_scan(struct shrinker *s,
				     struct shrink_control *sc)
{
	unsigned long freed = 0;
	int size;

	/* 2 MiB pages first: a 1 GiB page is dear to get back */
	for (size = 0; size < HPA_NR_SIZES && freed < sc->nr_to_scan; size++) {
		struct hpa_pool *pool = hpa_pool_get(sc->nid, size);

		while (pool && freed < sc->nr_to_scan) {
			struct page *page = NULL;

			spin_lock(&pool->lock);
			if (hpa_pool_reclaimable(pool)) {
				page = list_first_entry(&pool->free_list,
							struct page, lru);
				list_del_init(&page->lru);
				pool->nr_free--;
				pool->shrinker_released++;
				if (pool->target > pool->min)
					pool->target--;
			}
			spin_unlock(&pool->lock);
			if (!page)
				break;
			hpa_pool_release_page(pool, page);
			freed += 1UL << pool->order;
		}
	}
	return freed ? freed : SHRINK_STOP;
}

static struct hpa_pool *hpa_pool_new(int nid, enum hpa_size size)
{
	struct hpa_pool *pool = kzalloc(sizeof(*pool), GFP_KERNEL);

	if (!pool)
		return NULL;
	pool->nid = nid;
	pool->size = size;
	pool->order = hpa_size_order(size);
	spin_lock_init(&pool->lock);
	INIT_LIST_HEAD(&pool->free_list);
	INIT_LIST_HEAD(&pool->dirty_list);
	INIT_LIST_HEAD(&pool->pinned_list);
	mutex_init(&pool->resize_lock);
	INIT_WORK(&pool->zero_work, hpa_pool_zero_worker);
	INIT_DELAYED_WORK(&pool->pinned_work, hpa_pool_pinned_worker);
	return pool;
}

/* Drain a pool at unload; says whether anything was still out. */
static bool hpa_pool_destroy(struct hpa_pool *pool)
{
	bool compound = hpa_pool_compound(pool);
	unsigned long nr_base = 1UL << pool->order;
	const char *name = pool->size == HPA_1G ? "1G" : "2M";
	struct page *page, *next;
	bool leak = false;

	/*
	 * The two workers queue each other: once dying is set neither does,
	 * so that neither runs again after being cancelled.
	 */
	spin_lock(&pool->lock);
	pool->dying = true;
	spin_unlock(&pool->lock);
	cancel_delayed_work_sync(&pool->pinned_work);
	cancel_work_sync(&pool->zero_work);
	list_splice_tail_init(&pool->pinned_list, &pool->dirty_list);
	list_for_each_entry_safe(page, next, &pool->dirty_list, lru) {
		list_del_init(&page->lru);
		if (!compound && hpa_page_pinned(page, nr_base, false)) {
			pr_err("leak: node%d %s page pfn %#lx still referenced\n",
			       pool->nid, name, page_to_pfn(page));
			leak = true;
			continue;
		}
		pool->nr_zeroing--;
		hpa_pool_release_page(pool, page);
	}
	list_for_each_entry_safe(page, next, &pool->free_list, lru) {
		list_del_init(&page->lru);
		pool->nr_free--;
		hpa_pool_release_page(pool, page);
		cond_resched();
	}
	if (pool->nr_in_use || pool->nr_free || pool->nr_zeroing) {
		pr_err("leak: node%d %s in_use %lu free %lu zeroing %lu\n",
		       pool->nid, name, pool->nr_in_use, pool->nr_free,
		       pool->nr_zeroing);
		leak = true;
	}
	kobject_put(&pool->kobj);
	return leak;
}

/*
 * Take the pools' sysfs directories away before the pools go: removing
 * them waits for target/min writes in progress, and none starts after.
 * A resize racing the drain at unload would add pages no one frees.
 */
void hpa_pools_hide(void)
{
	int nid, size;

	for (nid = 0; nid < MAX_NUMNODES; nid++)
		for (size = 0; size < HPA_NR_SIZES; size++)
			if (hpa_pools[nid][size])
				kobject_del(&hpa_pools[nid][size]->kobj);
}

bool hpa_pools_check_leaks(void)
{
	long held;
	bool leak = false;
	int nid, size;

	for (nid = 0; nid < MAX_NUMNODES; nid++) {
		for (size = 0; size < HPA_NR_SIZES; size++) {
			if (!hpa_pools[nid][size])
				continue;
			leak |= hpa_pool_destroy(hpa_pools[nid][size]);
			hpa_pools[nid][size] = NULL;
		}
	}
	held = atomic_long_read(&hpa_pages_held);
	if (held) {
		pr_err("leak: %ld pages (%ld MiB) taken from the page allocator were not given back\n",
		       held, held >> (20 - PAGE_SHIFT));
		leak = true;
	}
	return leak;
}

static const char *const hpa_size_dir[HPA_NR_SIZES] = {
	[HPA_2M] = "2M",
	[HPA_1G] = "1G",
};

int hpa_pools_init(void)
{
	int nid, size, ret;

	ret = hpa_parse_counts("pages_2m", pages_2m, HPA_2M);
	if (ret)
		return ret;
	ret = hpa_parse_counts("pages_1g", pages_1g, HPA_1G);
	if (ret)
		return ret;

	for_each_node_state(nid, N_MEMORY) {
		struct kobject *node_dir = hpa_sysfs_node_dir(nid);

		if (!node_dir) {
			ret = -ENOMEM;
			goto destroy_pools;
		}
		for (size = 0; size < HPA_NR_SIZES; size++) {
			struct hpa_pool *pool = hpa_pool_new(nid, size);

			if (!pool) {
				ret = -ENOMEM;
				goto destroy_pools;
			}
			ret = kobject_init_and_add(&pool->kobj,
						   hpa_sysfs_pool_ktype(),
						   node_dir, "%s",
						   hpa_size_dir[size]);
			if (ret) {
				kobject_put(&pool->kobj);
				goto destroy_pools;
			}
			hpa_pools[nid][size] = pool;
		}
	}

	for_each_node_state(nid, N_MEMORY) {
		for (size = 0; size < HPA_NR_SIZES; size++) {
			struct hpa_pool *pool = hpa_pools[nid][size];
			unsigned long want = hpa_initial[size][nid];

			if (!want)
				continue;
			hpa_pool_set_min(pool, want);
			hpa_pool_resize(pool, want);
			if (pool->target < want)
				pr_warn("node%d %s: got %lu of %lu pages\n", nid,
					hpa_size_dir[size], pool->target, want);
		}
	}

	hpa_shrinker = hpalloc_shrinker_create(hpa_shrink_count,
					       hpa_shrink_scan);
	if (!hpa_shrinker) {
		ret = -ENOMEM;
		goto destroy_pools;
	}
	return 0;

destroy_pools:
	hpa_pools_check_leaks();
	return ret;
}

void hpa_pools_exit(void)
{
	hpalloc_shrinker_destroy(hpa_shrinker);
	hpa_shrinker = NULL;
}
