// SPDX-License-Identifier: GPL-2.0
/*
 * Per-node pools of 2 MiB and 1 GiB pages: their lists and counters, the
 * workers, resizing and the shrinker.  The pages themselves come from and
 * go back to the page source (pages.c).  A page that comes back from a
 * buffer is zeroed by a worker before it is handed out again, so faults
 * never wait for clear_page(), and a page that someone else still holds a
 * reference on (a GUP pin: O_DIRECT, vmsplice ...) is neither zeroed nor
 * reused until that reference goes.  The pool is the only one that edits
 * its counters; buffers take and give back pages or ranges through it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bsearch.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "compat.h"
#include "internal.h"

static struct hpa_pool *hpa_pools[MAX_NUMNODES][HPA_NR_SIZES];
static struct shrinker *hpa_shrinker;

static void hpa_pool_release_page(struct hpa_pool *pool, struct page *page);
static int hpa_cmp_pfn(const void *a, const void *b);

struct hpa_pool *hpa_pool_of(int nid, enum hpa_size size)
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
 * Mark in own[] (one bit per 2 MiB of the range starting at pfn) the free
 * pages of the 2 MiB pool that lie in the range.  Returns how many.
 */
unsigned int hpa_pool_own_in_range(struct hpa_pool *small, unsigned long pfn,
				   unsigned long nr, unsigned long *own)
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
 * Give the 2 MiB pool's free pages in [pfn, pfn + nr) back to the page
 * allocator, so that the range can become a 1 GiB page: above the pool's
 * minimum only, and its target falls with them as with the shrinker.
 */
unsigned long hpa_pool_release_in_range(struct hpa_pool *small,
					unsigned long pfn, unsigned long nr)
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

/* A request the pool could not serve (refused early, or nothing left). */
void hpa_pool_note_failure(struct hpa_pool *pool)
{
	spin_lock(&pool->lock);
	pool->failures++;
	spin_unlock(&pool->lock);
}

/* Free and being zeroed: what the pool could hand out without a search. */
unsigned long hpa_pool_nr_ready(struct hpa_pool *pool)
{
	return READ_ONCE(pool->nr_free) + READ_ONCE(pool->nr_zeroing);
}

/* nr contiguous pages from the page source, its search counted here. */
static struct page *hpa_pool_alloc_range(struct hpa_pool *pool,
					 unsigned int nr, bool *compound)
{
	struct hpa_scan scan = { };
	struct page *page;

	page = hpa_pages_alloc_range(pool->nid, pool->size, nr, compound,
				     &scan);
	hpa_pool_note_scan(pool, &scan);
	return page;
}

static struct page *hpa_pool_alloc_page(struct hpa_pool *pool)
{
	bool compound;

	if (pool->size == HPA_2M)
		return hpa_pages_alloc_2m(pool->nid);
	return hpa_pool_alloc_range(pool, 1, &compound);
}

static void hpa_pool_release_page(struct hpa_pool *pool, struct page *page)
{
	hpa_pages_free(page, 1UL << pool->order, hpa_page_compound(page));
}

/*
 * A buffer's private range: nr physically contiguous pages straight from
 * the page source, counted in use until hpa_pool_release_range().
 */
struct page *hpa_pool_take_range(struct hpa_pool *pool, unsigned int nr,
				 bool *compound)
{
	struct page *page = hpa_pool_alloc_range(pool, nr, compound);

	if (!page)
		return NULL;
	spin_lock(&pool->lock);
	pool->nr_in_use += nr;
	pool->allocs += nr;
	spin_unlock(&pool->lock);
	return page;
}

/* The range goes back as a whole, counted until the allocator has it. */
void hpa_pool_release_range(struct hpa_pool *pool, struct page *first,
			    unsigned int nr, bool compound)
{
	hpa_pages_free(first, (unsigned long)nr << pool->order, compound);
	spin_lock(&pool->lock);
	pool->nr_in_use -= nr;
	spin_unlock(&pool->lock);
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
bool hpa_pool_releasing(struct hpa_pool *pool)
{
	struct hpa_pool *small = NULL;

	if (pool->size == HPA_1G)
		small = hpa_pool_of(pool->nid, HPA_2M);
	return READ_ONCE(pool->nr_zeroing) ||
	       (small && READ_ONCE(small->nr_zeroing));
}

static void hpa_pool_wait_releasing(struct hpa_pool *pool)
{
	flush_work(&pool->zero_work);
	if (pool->size == HPA_1G)
		flush_work(&hpa_pool_of(pool->nid, HPA_2M)->zero_work);
}

/*
 * After a try that failed: wait for the node's pages on their way out.
 * was_releasing is hpa_pool_releasing() read before the try, since a page
 * zeroed in between is back on the free list by now, which the try did
 * not see.  False if there were none then and none now: trying again
 * cannot help.
 */
bool hpa_pool_wait_for_zeroing(struct hpa_pool *pool, bool was_releasing)
{
	if (!was_releasing && !hpa_pool_releasing(pool))
		return false;
	hpa_pool_wait_releasing(pool);
	return true;
}

/* Free pages above the pool's minimum, in pages of its size. */
static unsigned long hpa_pool_spare(struct hpa_pool *pool)
{
	unsigned long total = hpa_pool_total(pool);

	return total > pool->min ? min(pool->nr_free, total - pool->min) : 0;
}

/*
 * Pages of this pool's size that converting the node's other pool could
 * give, at most: 512 per spare 1 GiB page for a 2 MiB pool; for a 1 GiB
 * pool one per 512 spare 2 MiB pages (an upper bound: they must also make
 * up whole aligned GiBs).
 */
unsigned long hpa_pool_nr_convertible(struct hpa_pool *pool)
{
	struct hpa_pool *other = hpa_pool_of(pool->nid, pool->size == HPA_2M ?
					     HPA_1G : HPA_2M);
	unsigned long n;

	if (!other)
		return 0;
	n = hpa_pool_spare(other);
	/* and what a conversion under way will bring */
	if (pool->size == HPA_2M)
		return (n + READ_ONCE(other->splitting)) * HPA_OWN_SLOTS;
	return n / HPA_OWN_SLOTS + READ_ONCE(pool->merging);
}

/*
 * Split one free 1 GiB page above the pool's minimum into 512 free pages
 * of the node's 2 MiB pool; both targets follow, so that neither pool
 * gives back or refills what moved.  No page is zeroed: the pieces are
 * the zero memory the 1 GiB page was, unless the page allocator lent some
 * of it out in between (see hpa_pages_split_1g()).  0, -ENOMEM when there
 * is no such page, -EBUSY when pieces could not be taken back.
 */
static int hpa_pool_split_one(struct hpa_pool *big, struct hpa_pool *small)
{
	unsigned int n, dirty = 0;
	LIST_HEAD(pieces);
	struct page *gib;

	spin_lock(&big->lock);
	if (!hpa_pool_spare(big)) {
		spin_unlock(&big->lock);
		return -ENOMEM;
	}
	gib = list_first_entry(&big->free_list, struct page, lru);
	list_del_init(&gib->lru);
	big->nr_free--;
	if (big->target)
		big->target--;
	big->splitting++;
	spin_unlock(&big->lock);

	n = hpa_pages_split_1g(gib, &pieces, &dirty);

	spin_lock(&small->lock);
	list_splice(&pieces, &small->free_list);
	small->nr_free += n;
	small->target += n;
	spin_unlock(&small->lock);

	spin_lock(&big->lock);
	big->splitting--;
	big->split++;
	big->convert_dirty += dirty;
	big->convert_lost += HPA_OWN_SLOTS - n;
	spin_unlock(&big->lock);
	return n == HPA_OWN_SLOTS ? 0 : -EBUSY;
}

/*
 * How many 1 GiB-aligned ranges, up to max, the 2 MiB pool holds all 512
 * pages of, free and above its minimum; *first (pfn >> PUD_ORDER) is the
 * lowest of them.
 */
static unsigned long hpa_pool_full_gibs(struct hpa_pool *small,
					unsigned long max, unsigned long *first)
{
	unsigned long cap = READ_ONCE(small->nr_free), n = 0, i, run = 0;
	unsigned long full = 0, *gibs;
	struct page *page;

	if (!max || cap < HPA_OWN_SLOTS)
		return 0;
	gibs = kvmalloc_array(cap, sizeof(*gibs), GFP_KERNEL);
	if (!gibs)
		return 0;
	spin_lock(&small->lock);
	list_for_each_entry(page, &small->free_list, lru) {
		if (n == cap)
			break;
		gibs[n++] = page_to_pfn(page) >> PUD_ORDER;
	}
	max = min(max, hpa_pool_spare(small) / HPA_OWN_SLOTS);
	spin_unlock(&small->lock);
	sort(gibs, n, sizeof(*gibs), hpa_cmp_pfn, NULL);
	for (i = 0; i < n && full < max; i++) {
		run = i && gibs[i] == gibs[i - 1] ? run + 1 : 1;
		if (run == HPA_OWN_SLOTS && !full++)
			*first = gibs[i];
	}
	kvfree(gibs);
	return full;
}

/*
 * Merge 512 free 2 MiB pages that make up one aligned GiB, above the 2 MiB
 * pool's minimum, into a free page of the node's 1 GiB pool.  Only pieces
 * found written to are zeroed.  0, -ENOMEM when no such GiB is free,
 * -EBUSY when it could not be formed (the pieces that could be had again
 * stay in the 2 MiB pool, the others are counted lost).
 */
static int hpa_pool_merge_one(struct hpa_pool *big, struct hpa_pool *small)
{
	unsigned long gib, n = 0;
	unsigned int dirty = 0, lost = 0;
	struct page *page, *next;
	LIST_HEAD(pieces);

	if (!hpa_pool_full_gibs(small, 1, &gib))
		return -ENOMEM;
	spin_lock(&small->lock);
	if (hpa_pool_spare(small) >= HPA_OWN_SLOTS) {
		list_for_each_entry_safe(page, next, &small->free_list, lru) {
			if (page_to_pfn(page) >> PUD_ORDER != gib)
				continue;
			list_move_tail(&page->lru, &pieces);
			n++;
		}
	}
	if (n < HPA_OWN_SLOTS) {
		/* taken meanwhile: put back what was moved, order aside */
		list_splice(&pieces, &small->free_list);
		spin_unlock(&small->lock);
		return -ENOMEM;
	}
	small->nr_free -= n;
	small->target = small->target > n ? small->target - n : 0;
	spin_unlock(&small->lock);
	spin_lock(&big->lock);
	big->merging++;
	spin_unlock(&big->lock);

	page = hpa_pages_merge_1g(gib << PUD_ORDER, &pieces, &dirty, &lost);

	spin_lock(&big->lock);
	big->merging--;
	if (page) {
		list_add(&page->lru, &big->free_list);
		big->nr_free++;
		big->target++;
		big->merged++;
	}
	big->convert_dirty += dirty;
	big->convert_lost += lost;
	spin_unlock(&big->lock);
	if (page)
		return 0;

	n = 0;
	list_for_each_entry(page, &pieces, lru)
		n++;
	spin_lock(&small->lock);
	list_splice(&pieces, &small->free_list);
	small->nr_free += n;
	small->target += n;
	spin_unlock(&small->lock);
	return -EBUSY;
}

/* The node's two pools, for a conversion asked of its 1 GiB pool. */
static struct hpa_pool *hpa_pool_small_of(struct hpa_pool *big)
{
	return big->size == HPA_1G ? hpa_pool_of(big->nid, HPA_2M) : NULL;
}

/*
 * An administrator's request (sysfs): split nr free 1 GiB pages, or merge
 * nr GiBs of free 2 MiB pages, with no other conversion of the node in
 * between.  Nothing changes when there are fewer than nr to convert
 * (-ENOMEM); -EBUSY when one could not be completed (pages taken by an
 * allocation meanwhile, pieces that could not be taken back).
 */
static int hpa_pool_convert_nr(struct hpa_pool *big, unsigned long nr,
			       bool split)
{
	struct hpa_pool *small = hpa_pool_small_of(big);
	unsigned long have, gib;
	int ret = 0;

	if (!small)
		return -EINVAL;
	mutex_lock(&big->convert_lock);
	if (split) {
		spin_lock(&big->lock);
		have = hpa_pool_spare(big);
		spin_unlock(&big->lock);
	} else {
		have = hpa_pool_full_gibs(small, nr, &gib);
	}
	if (have < nr)
		ret = -ENOMEM;
	while (!ret && nr--) {
		ret = split ? hpa_pool_split_one(big, small) :
			      hpa_pool_merge_one(big, small);
		if (ret == -ENOMEM)
			ret = -EBUSY;
		cond_resched();
	}
	mutex_unlock(&big->convert_lock);
	return ret;
}

int hpa_pool_split(struct hpa_pool *big, unsigned long nr)
{
	return hpa_pool_convert_nr(big, nr, true);
}

int hpa_pool_merge(struct hpa_pool *big, unsigned long nr)
{
	return hpa_pool_convert_nr(big, nr, false);
}

/*
 * The pool is dry: convert the node's other pool (split a 1 GiB page for a
 * 2 MiB take, merge a free GiB of 2 MiB pages for a 1 GiB take), or wait
 * for the conversion under way, whose pages are in neither pool until it
 * ends.  True when pages may have come.
 */
bool hpa_pool_convert_for(struct hpa_pool *pool)
{
	struct hpa_pool *big = hpa_pool_of(pool->nid, HPA_1G);
	struct hpa_pool *small = hpa_pool_of(pool->nid, HPA_2M);
	int ret;

	if (!big || !small)
		return false;
	if (!mutex_trylock(&big->convert_lock)) {
		mutex_lock(&big->convert_lock);
		mutex_unlock(&big->convert_lock);
		return true;
	}
	if (pool->size == HPA_2M)
		ret = hpa_pool_split_one(big, small);
	else
		ret = hpa_pool_merge_one(big, small);
	mutex_unlock(&big->convert_lock);
	return ret != -ENOMEM;
}

/*
 * What a dry pool tries first when a page is taken: converting the node's
 * other pool, or a fresh page from the page allocator (docs/device.md,
 * "Placement").  A 1 GiB pool merges first: 512 free 2 MiB pages of one
 * aligned GiB are a 1 GiB page already, with no range to scan, no page to
 * migrate and no clean piece to zero, and the node's free GiBs stay with
 * the page allocator.  A 2 MiB pool takes a fresh page first: a split uses
 * up a 1 GiB page, the size that is hard to get back.
 */
bool hpa_pool_converts_first(enum hpa_size size)
{
	return size == HPA_1G;
}

/*
 * A conversion for a take of nr adjacent pages of the pool: only when one
 * conversion makes that many (a split, 512 adjacent 2 MiB pages; a merge,
 * one 1 GiB page).  True when pages may have come.
 */
bool hpa_pool_convert_contig(struct hpa_pool *pool, unsigned int nr)
{
	if (nr > (pool->size == HPA_2M ? HPA_OWN_SLOTS : 1))
		return false;
	return hpa_pool_convert_for(pool);
}

/* A conversion for the pool, then a page off its free list, or NULL. */
static struct page *hpa_pool_take_converted(struct hpa_pool *pool)
{
	return hpa_pool_convert_for(pool) ? hpa_pool_take_free(pool) : NULL;
}

/* Tries of hpa_pool_take(): each after memory came back to the node. */
#define HPA_TAKE_TRIES	3

/*
 * Hand out one zeroed page: from the free list, else one converted from
 * the node's other pool and (overcommit) a fresh one from the page
 * allocator, in the order hpa_pool_converts_first() says, else one that is
 * being zeroed or released right now (a 1 GiB page freed a moment ago is
 * the only one its node has).  A search that failed while pages of the
 * node were on their way back is tried again once they are back, whether
 * or not they still are when it ends: a range freed during the search was
 * seen busy.  Returns NULL and counts a failure if there is none.
 */
struct page *hpa_pool_take(struct hpa_pool *pool)
{
	struct page *page;
	int tries;

	for (tries = 0; tries < HPA_TAKE_TRIES; tries++) {
		/*
		 * Read before the free list is: a page whose zeroing ends
		 * after the list was seen empty must still be waited for.
		 */
		long seq = hpa_node_release_seq(pool->nid);
		bool releasing = hpa_pool_releasing(pool);

		page = hpa_pool_take_free(pool);
		if (!page && hpa_pool_converts_first(pool->size))
			page = hpa_pool_take_converted(pool);
		if (page)
			return page;
		if (READ_ONCE(hpa_overcommit))
			page = hpa_pool_alloc_page(pool);
		if (page) {
			spin_lock(&pool->lock);
			pool->nr_in_use++;
			pool->allocs++;
			spin_unlock(&pool->lock);
			return page;
		}
		if (!hpa_pool_converts_first(pool->size)) {
			page = hpa_pool_take_converted(pool);
			if (page)
				return page;
		}
		if (fatal_signal_pending(current))
			break;
		if (releasing || hpa_pool_releasing(pool))
			hpa_pool_wait_releasing(pool);
		else if (hpa_node_release_seq(pool->nid) == seq)
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
	bool pinned_any = false;

	for (;;) {
		struct page *page;
		bool surplus, compound;

		spin_lock(&pool->lock);
		page = list_first_entry_or_null(&pool->dirty_list,
						struct page, lru);
		if (!page) {
			spin_unlock(&pool->lock);
			break;
		}
		list_del_init(&page->lru);
		compound = hpa_page_compound(page);
		surplus = hpa_pool_total(pool) > pool->target;
		/* put_page() is safe with pins: they free the folio later */
		if (!(surplus && compound) &&
		    hpa_pages_pinned(page, nr_base, compound)) {
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

		hpa_pages_zero(page, nr_base);

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

	hpa_pool_own_in_range(pool, pfn, nr, own);
	return hpa_range_clearable(pfn, nr, own);
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
	struct hpa_steer steer;
	int ret = 0;

	hpa_steer_init(&steer, pool->nid);
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
		struct page *page = NULL;
		bool steered = false;

		spin_unlock(&pool->lock);
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
		} else {
			if (pool->size == HPA_2M)
				page = hpa_pages_steer_2m(&steer);
			steered = !!page;
			if (!page)
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
		pool->steered += steered;
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

void hpa_pool_read_stats(struct hpa_pool *pool, struct hpa_pool_stats *st)
{
	spin_lock(&pool->lock);
	st->total = hpa_pool_total(pool);
	st->free = pool->nr_free;
	st->in_use = pool->nr_in_use;
	st->zeroing = pool->nr_zeroing;
	st->allocs = pool->allocs;
	st->failures = pool->failures;
	st->contig_requests = pool->contig_requests;
	st->contig_failures = pool->contig_failures;
	st->shrinker_released = pool->shrinker_released;
	st->zeroed = pool->zeroed;
	st->ranges_tried = pool->ranges_tried;
	st->ranges_unmovable = pool->ranges_unmovable;
	st->ranges_pinned = pool->ranges_pinned;
	st->ranges_busy = pool->ranges_busy;
	st->ranges_own_2m = pool->ranges_own_2m;
	st->released_for_1g = pool->released_for_1g;
	st->steered = pool->steered;
	st->split = pool->split;
	st->merged = pool->merged;
	st->convert_dirty = pool->convert_dirty;
	st->convert_lost = pool->convert_lost;
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
		struct hpa_pool *pool = hpa_pool_of(sc->nid, size);

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
		struct hpa_pool *pool = hpa_pool_of(sc->nid, size);

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
	mutex_init(&pool->convert_lock);
	INIT_WORK(&pool->zero_work, hpa_pool_zero_worker);
	INIT_DELAYED_WORK(&pool->pinned_work, hpa_pool_pinned_worker);
	return pool;
}

/* Drain a pool at unload and free it; says whether anything was out. */
static bool hpa_pool_destroy(struct hpa_pool *pool)
{
	unsigned long nr_base = 1UL << pool->order;
	const char *name = hpa_size_name(pool->size);
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
		if (!hpa_page_compound(page) &&
		    hpa_pages_pinned(page, nr_base, false)) {
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
	mutex_destroy(&pool->resize_lock);
	mutex_destroy(&pool->convert_lock);
	kfree(pool);
	return leak;
}

/*
 * Stop the shrinker, let the zeroing workers finish, drain every pool back
 * to the page allocator and free it.  Nothing may reach a pool any more
 * (no open file, no mapping, no sysfs directory).  Says whether anything
 * was still out: a page in use, still pinned, or not given back.
 */
bool hpa_pools_destroy(void)
{
	bool leak = false;
	int nid, size;

	hpalloc_shrinker_destroy(hpa_shrinker);
	hpa_shrinker = NULL;
	flush_workqueue(hpa_wq);
	for (nid = 0; nid < MAX_NUMNODES; nid++) {
		for (size = 0; size < HPA_NR_SIZES; size++) {
			if (!hpa_pools[nid][size])
				continue;
			leak |= hpa_pool_destroy(hpa_pools[nid][size]);
			hpa_pools[nid][size] = NULL;
		}
	}
	if (!hpa_pages_all_returned())
		leak = true;
	return leak;
}

/*
 * A pool for every node with memory and every page size, filled as the
 * pages_2m/pages_1g parameters ask (a node that cannot give them all gets
 * what it has, and says so), then the shrinker.
 */
int hpa_pools_create(void)
{
	int nid, size;

	for_each_node_state(nid, N_MEMORY) {
		for (size = 0; size < HPA_NR_SIZES; size++) {
			struct hpa_pool *pool = hpa_pool_new(nid, size);

			if (!pool)
				goto destroy_pools;
			hpa_pools[nid][size] = pool;
		}
	}

	for_each_node_state(nid, N_MEMORY) {
		for (size = 0; size < HPA_NR_SIZES; size++) {
			struct hpa_pool *pool = hpa_pools[nid][size];
			unsigned long want = hpa_param_initial_pages(nid, size);

			if (!want)
				continue;
			hpa_pool_set_min(pool, want);
			hpa_pool_resize(pool, want);
			if (pool->target < want)
				pr_warn("node%d %s: got %lu of %lu pages\n", nid,
					hpa_size_name(size), pool->target,
					want);
		}
	}

	hpa_shrinker = hpalloc_shrinker_create(hpa_shrink_count,
					       hpa_shrink_scan);
	if (!hpa_shrinker)
		goto destroy_pools;
	return 0;

destroy_pools:
	hpa_pools_destroy();
	return -ENOMEM;
}
