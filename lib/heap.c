// SPDX-License-Identifier: MIT
/*
 * Thread heaps.  Each thread allocates from its own heap without a lock:
 * per size class a list of pages with free blocks (the head is where
 * allocation happens) and a list of full pages.  The class remembers which
 * 64-bit word of the head page's bitmap it takes blocks from, so malloc is
 * a ctz and a clear of that word until the word runs out; then the page's
 * nonempty mask (a bit per word, ctz again) names the next word, and a page
 * whose mask is empty goes to the full list.  In front of that, each
 * class has a free cache (internal.h): a block freed by its owner is pushed
 * there and malloc pops it first; past its limit the older half of the
 * cache sets its bits again.  A block freed by another thread is pushed onto
 * its page's lock-free remote list, and the first such push also pushes the
 * page onto the owner heap's remote_pages stack.  The owner takes both
 * with an atomic exchange (no ABA: nobody pops single entries) when it runs
 * out of free blocks in a class, and puts the blocks into their classes'
 * free caches.
 *
 * A thread that exits hands its heap, with every segment in it, to the next
 * thread that starts (pthread key destructor).  Frees into an abandoned
 * heap keep landing on its remote lists until then.
 *
 * Node heaps (hpa_malloc_node, and threads past their key destructor) are
 * shared: used under their adaptive lock, fed with segments bound to their
 * node.
 */
#include <pthread.h>
#include <string.h>
#include <sys/auxv.h>

#include "internal.h"

__thread struct hpa_heap *hpa_tls_heap
	__attribute__((tls_model("initial-exec")));
#define HEAP_EXITED	((struct hpa_heap *)1)

uint64_t hpa_empty_word;
/*
 * Set at start-up, before any unit map entry: in metadata memory, where
 * the first segment header comes right after it (in .bss it would move
 * the start-up variables after it onto one more page).
 */
struct hpa_page *hpa_no_page;
uint64_t hpa_free_cookie = 0x9e3779b97f4a7c17ULL;
struct hpa_heap *hpa_all_heaps;
struct hpa_lock hpa_heaps_lock = HPA_LOCK_INIT;
static struct hpa_heap *abandoned;
static struct hpa_heap *node_heaps[HPA_MAX_NODES];
static pthread_key_t heap_key;

/*
 * A class's free cache holds up to HPA_CACHE_BYTES of blocks (at least
 * HPA_CACHE_MIN, at most HPA_CACHE_MAX of them): enough that batches of a
 * thousand blocks of up to 256 bytes freed and allocated again never reach
 * the bitmaps, little enough that cached blocks keep few pages from emptying.
 */
#define HPA_CACHE_BYTES	(256 * 1024)
#define HPA_CACHE_MIN	4
#define HPA_CACHE_MAX	1024

/* Bump allocation from metadata memory mapped 1 MiB at a time. */
struct meta_bump {
	char *cur, *end;
};

static struct meta_bump heap_meta;	/* under hpa_heaps_lock */
/*
 * Segment headers: their own lock, taken after a node heap's lock (a node
 * heap carves pages under its lock) and last by hpa_heaps_lock_all().
 */
static struct hpa_lock header_lock = HPA_LOCK_INIT;
static struct hpa_segment *spare_headers;
static struct meta_bump header_meta;	/* under header_lock */

static void *meta_alloc(struct meta_bump *b, size_t size)
{
	void *p;

	size = hpa_align_up(size, 64);
	if (!b->cur || b->cur + size > b->end) {
		size_t len = size > HPA_MiB ? size : HPA_MiB;

		b->cur = hpa_prim->meta_map(len);
		if (!b->cur)
			return NULL;
		b->end = b->cur + len;
	}
	p = b->cur;
	b->cur += size;
	return p;
}

/* A segment header: reused from a released segment, or new metadata. */
static struct hpa_segment *header_get(void)
{
	struct hpa_segment *seg;

	hpa_lock(&header_lock);
	seg = spare_headers;
	if (seg)
		spare_headers = seg->next;
	else
		seg = meta_alloc(&header_meta, sizeof(*seg));
	hpa_unlock(&header_lock);
	return seg;
}

static void header_put(struct hpa_segment *seg)
{
	hpa_lock(&header_lock);
	seg->next = spare_headers;
	spare_headers = seg;
	hpa_unlock(&header_lock);
}

static struct hpa_heap *heap_new(int node, bool shared)
{
	struct hpa_heap *h = meta_alloc(&heap_meta, sizeof(*h));
	unsigned int c;

	if (!h)
		return NULL;
	memset(h, 0, sizeof(*h));
	for (c = 0; c < HPA_NCLASSES; c++) {
		uint32_t max = (uint32_t)(HPA_CACHE_BYTES / hpa_classes[c].size);

		h->cls[c].word = &hpa_empty_word;
		h->cls[c].size = hpa_classes[c].size;
		h->cls[c].cache_max = (uint16_t)(max < HPA_CACHE_MIN ?
				HPA_CACHE_MIN : max > HPA_CACHE_MAX ?
				HPA_CACHE_MAX : max);
		h->cls[c].cache_room = h->cls[c].cache_max;
	}
	h->direct.word = &hpa_empty_word;
	h->direct.cache_max = 1;
	h->direct.cache_room = 1;
	h->node = node;
	h->shared = shared;
	h->bind = shared;
	h->next_all = hpa_all_heaps;
	hpa_all_heaps = h;
	return h;
}

static void heap_exit(void *arg)
{
	hpa_tls_heap = HEAP_EXITED;
	hpa_heap_abandon(arg);
}

void hpa_heaps_init(void)
{
	const uint64_t *r = (const uint64_t *)getauxval(AT_RANDOM);
	uint64_t x;

	if (!hpa_no_page) {
		hpa_lock(&header_lock);
		hpa_no_page = meta_alloc(&header_meta, sizeof(*hpa_no_page));
		hpa_unlock(&header_lock);
		if (!hpa_no_page)
			hpa_fatal("no memory for the library's metadata\n");
		/*
		 * Its frontier is 0 (meta_alloc memory is zeroed), so that
		 * free's bounds compare sends every pointer in it to
		 * hpa_heap_free_odd(); never a heap's page.
		 */
		hpa_no_page->heap = (struct hpa_heap *)hpa_no_page;
	}
	/* AT_RANDOM: 16 bytes the kernel gives every process. */
	if (r) {
		memcpy(&x, r, sizeof(x));
		hpa_free_cookie = x | 1;
	}
	if (pthread_key_create(&heap_key, heap_exit) != 0)
		hpa_fatal("pthread_key_create failed\n");
}

struct hpa_heap *hpa_heap_node(int node)
{
	struct hpa_heap *h;

	if (node < 0 || node >= HPA_MAX_NODES)
		node = 0;
	h = __atomic_load_n(&node_heaps[node], __ATOMIC_ACQUIRE);
	if (h)
		return h;
	hpa_lock(&hpa_heaps_lock);
	h = node_heaps[node];
	if (!h) {
		h = heap_new(node, true);
		if (h)
			__atomic_store_n(&node_heaps[node], h, __ATOMIC_RELEASE);
	}
	hpa_unlock(&hpa_heaps_lock);
	return h;
}

struct hpa_heap *hpa_heap_get_slow(void)
{
	struct hpa_heap *h, **pp;
	int node;

	hpa_ensure_init();
	node = hpa_prim->current_node();
	if (hpa_tls_heap == HEAP_EXITED)
		return hpa_heap_node(node);
	hpa_lock(&hpa_heaps_lock);
	/* Adopt an exited thread's heap, preferably one of this node. */
	for (pp = &abandoned; *pp; pp = &(*pp)->next_abandoned)
		if ((*pp)->node == node)
			break;
	if (!*pp)
		pp = &abandoned;
	h = *pp;
	if (h) {
		*pp = h->next_abandoned;
		h->abandoned = false;
	} else {
		h = heap_new(node, false);
	}
	hpa_unlock(&hpa_heaps_lock);
	if (!h)
		return NULL;
	hpa_tls_heap = h;
	pthread_setspecific(heap_key, h);
	return h;
}

/* ---- lists ---------------------------------------------------------- */

static void page_unlink(struct hpa_page **head, struct hpa_page *pg)
{
	if (pg->prev)
		pg->prev->next = pg->next;
	else
		*head = pg->next;
	if (pg->next)
		pg->next->prev = pg->prev;
	pg->next = pg->prev = NULL;
}

static void page_push(struct hpa_page **head, struct hpa_page *pg)
{
	pg->prev = NULL;
	pg->next = *head;
	if (*head)
		(*head)->prev = pg;
	*head = pg;
}

static void seg_unlink(struct hpa_segment **head, struct hpa_segment *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		*head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

static void seg_push(struct hpa_segment **head, struct hpa_segment *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

/* ---- pages ---------------------------------------------------------- */

/*
 * Every block pg ever handed out is in its bitmap again, and so carries the
 * bitmap tag, unless it was freed once more after it got there and sits in
 * a free cache too (or was written to after its free): caught here, before
 * the page's memory goes to other blocks.  Reads one word per block handed
 * out, at most one per take since the page was carved.
 */
static void page_check_tags(const struct hpa_page *pg)
{
	uint64_t i, n = hpa_page_limit(pg), want = pg->cookie ^ HPA_MAP_TAG;
	const char *b = pg->start;

	for (i = 0; i < n; i++, b += pg->block_size)
		if (HPA_UNLIKELY(((const struct hpa_block *)b)->tag != want))
			hpa_heap_reuse_bad((const struct hpa_block *)b);
}

static void page_release(struct hpa_heap *h, struct hpa_page *pg)
{
	struct hpa_segment *seg = hpa_segment_of(pg->start);
	struct hpa_class_list *cl = &h->cls[pg->cls];
	bool was_full = seg->free_units == 0;

	page_check_tags(pg);
	/* The class allocates from its head page's bitmap: forget it. */
	if (cl->avail == pg)
		cl->word = &hpa_empty_word;
	page_unlink(pg->full ? &cl->full : &cl->avail, pg);
	hpa_count_add(&h->cls[pg->cls].pages, -1);
	hpa_segment_page_free(seg, pg);
	if (was_full) {
		seg_unlink(&h->segs_full[seg->kind], seg);
		seg_push(&h->segs[seg->kind], seg);
	}
	if (hpa_segment_empty(seg)) {
		seg_unlink(&h->segs[seg->kind], seg);
		hpa_count_add(&h->nsegments, -1);
		hpa_pool_put(hpa_chunk_index(seg->base));
		header_put(seg);
	}
}

void hpa_heap_page_emptied(struct hpa_heap *h, struct hpa_page *pg)
{
	struct hpa_class_list *cl = &h->cls[pg->cls];

	/* Keep one empty page per class so a malloc/free loop stays cheap. */
	if (cl->avail == pg && !pg->next)
		return;
	page_release(h, pg);
}

void hpa_heap_page_unfull(struct hpa_heap *h, struct hpa_page *pg)
{
	struct hpa_class_list *cl = &h->cls[pg->cls];

	page_unlink(&cl->full, pg);
	pg->full = 0;
	/* Behind the head: the head keeps serving until it is exhausted. */
	if (cl->avail) {
		pg->prev = cl->avail;
		pg->next = cl->avail->next;
		if (pg->next)
			pg->next->prev = pg;
		cl->avail->next = pg;
	} else {
		page_push(&cl->avail, pg);
	}
}

/* After a local free: the page left the full list, or became empty. */
void hpa_heap_free_slow(struct hpa_heap *h, struct hpa_page *pg)
{
	if (pg->full)
		hpa_heap_page_unfull(h, pg);
	if (pg->used == 0)
		hpa_heap_page_emptied(h, pg);
}

/*
 * Push the chain first..last of blocks of pg, tagged free, onto pg's
 * remote list: one CAS for the chain, and one more on the owner's
 * remote_pages when the list was empty.
 */
static void remote_push(struct hpa_page *pg, struct hpa_block *first,
			struct hpa_block *last)
{
	struct hpa_heap *h = pg->heap;
	struct hpa_block *old;
	struct hpa_page *top;

	/*
	 * acq_rel: when this push finds the list empty, it must see the
	 * owner's read of pg->remote_next (done before the owner emptied the
	 * list) as finished before it writes remote_next below.
	 */
	old = atomic_load_explicit(&pg->remote, memory_order_relaxed);
	do {
		last->next = old;
	} while (!atomic_compare_exchange_weak_explicit(&pg->remote, &old,
			first, memory_order_acq_rel, memory_order_relaxed));
	if (old)
		return;
	/* First pending block: tell the owner which page to look at. */
	top = atomic_load_explicit(&h->remote_pages, memory_order_relaxed);
	do {
		pg->remote_next = top;
	} while (!atomic_compare_exchange_weak_explicit(&h->remote_pages, &top,
			pg, memory_order_release, memory_order_relaxed));
}

/*
 * A free from a thread without a heap (it never allocated, or it is past
 * its heap's exit): onto the page's remote list at once, which costs a
 * compare-and-swap anyway, so the block's tag is read here: a block in a
 * free state is caught at this free.
 */
void hpa_heap_free_direct(void *p, struct hpa_page *pg)
{
	struct hpa_block *b = p;

	if (HPA_UNLIKELY(hpa_page_block_rot(pg, p) >= hpa_page_limit(pg))) {
		hpa_heap_free_odd(pg, p);
		return;
	}
	if (HPA_UNLIKELY(b->tag == pg->cookie ||
			 b->tag == (pg->cookie ^ HPA_MAP_TAG) ||
			 b->tag == (pg->cookie ^ HPA_REMOTE_TAG)))
		hpa_bad_pointer("hpa_free", p, "double free");
	b->tag = pg->cookie ^ HPA_REMOTE_TAG;
	remote_push(pg, b, b);
}

static void collect_remote(struct hpa_heap *h)
{
	struct hpa_page *pg;

	/* A plain load first: the exchange is a locked instruction. */
	if (!atomic_load_explicit(&h->remote_pages, memory_order_relaxed))
		return;
	pg = atomic_exchange_explicit(&h->remote_pages, NULL,
				      memory_order_acquire);

	while (pg) {
		/* Read before the exchange: after it a freer may re-push pg. */
		struct hpa_page *next = pg->remote_next;
		struct hpa_block *b = atomic_exchange_explicit(&pg->remote,
				NULL, memory_order_acq_rel);

		/*
		 * Into the class's free cache; the next mallocs take it from
		 * there.  A block freed again since it was pushed carries
		 * another tag than the remote one: caught here.
		 */
		while (b) {
			struct hpa_block *bn = b->next;

			if (HPA_UNLIKELY(b->tag !=
					 (pg->cookie ^ HPA_REMOTE_TAG)))
				hpa_heap_reuse_bad(b);
			hpa_heap_cache_push(h, &h->cls[pg->cls], b,
					    pg->cookie);
			b = bn;
		}
		pg = next;
	}
}

/*
 * A heap's first HPALLOC_SMALL_START bytes of segments are on 4 KiB pages:
 * a thread (or a program) that holds little memory pays for what it
 * touches, not for whole 2 MiB pages; past that the heap is big enough for
 * huge pages to pay.
 */
static bool heap_small(const struct hpa_heap *h)
{
	uint64_t n = atomic_load_explicit(&h->nsegments, memory_order_relaxed);

	return (n << HPA_CHUNK_SHIFT) < (uint64_t)hpa_option_int(
						HPA_OPT_SMALL_START);
}

/* The heap's thread returns block p of pg to its bitmap (a cache flush). */
static void free_local(struct hpa_heap *h, struct hpa_page *pg, void *p)
{
	long idx = hpa_page_block_index(pg, p);
	unsigned int w;
	uint64_t bit, word;

	if (HPA_UNLIKELY(idx < 0))
		hpa_bad_pointer("hpa_free", p, "not the start of a block");
	w = (unsigned int)idx / 64;
	bit = 1ULL << (idx % 64);
	word = pg->free_map[w];
	if (HPA_UNLIKELY(word & bit))
		hpa_bad_pointer("hpa_free", p, "double free");
	if (HPA_UNLIKELY(((struct hpa_block *)p)->tag != pg->cookie)) {
		hpa_heap_reuse_bad(p);
		return;
	}
	((struct hpa_block *)p)->tag = pg->cookie ^ HPA_MAP_TAG;
	pg->free_map[w] = word | bit;
	pg->nonempty |= 1ULL << w;
	hpa_count_add(&h->cls[pg->cls].in_use, -1);
	if (HPA_UNLIKELY(--pg->used == 0 || pg->full))
		hpa_heap_free_slow(h, pg);
}

/*
 * Give all but the newest keep blocks of the class's free cache back to
 * their pages' bitmaps: pages fill up and empty there (and a block freed
 * twice is caught there when its bit is already set).
 */
void hpa_heap_cache_flush(struct hpa_heap *h, struct hpa_class_list *cl,
			  uint32_t keep)
{
	struct hpa_block *b = cl->cache, **tail = &cl->cache;
	struct hpa_block *run_first = NULL, *run_last = NULL;
	struct hpa_page *run_pg = NULL;
	uint32_t i;

	for (i = 0; i < keep && b; i++) {
		tail = &b->next;
		b = b->next;
	}
	*tail = NULL;
	atomic_store_explicit(&cl->cache_room, cl->cache_max - i,
			      memory_order_relaxed);
	while (b) {
		/* Read next first: freeing b may release its segment. */
		struct hpa_block *next = b->next;
		struct hpa_page *pg = hpa_unit_page(((uintptr_t)b -
				(uintptr_t)hpa_arena.base) >> HPA_UNIT_SHIFT);

		if (HPA_LIKELY(pg->heap == h)) {
			free_local(h, pg, b);
		} else {
			/*
			 * Another heap's block: back to its page's remote
			 * list, one push per run of blocks of one page.
			 */
			if (HPA_UNLIKELY(b->tag != pg->cookie))
				hpa_heap_reuse_bad(b);
			b->tag = pg->cookie ^ HPA_REMOTE_TAG;
			if (pg != run_pg) {
				if (run_pg)
					remote_push(run_pg, run_first, run_last);
				run_pg = pg;
				run_first = run_last = b;
			} else {
				run_last->next = b;
				run_last = b;
			}
		}
		b = next;
	}
	if (run_pg)
		remote_push(run_pg, run_first, run_last);
}

void *hpa_heap_reuse_bad(const struct hpa_block *b)
{
	hpa_fatal("hpa_free(%p): double free (or a write to the block after its free), found before the block was reused\n",
		  (const void *)b);
}

void hpa_heap_free_odd(const struct hpa_page *pg, void *p)
{
	if (pg == hpa_no_page) {
		/* Not in a page: a big block, or not a block at all. */
		hpa_free_other(p);
		return;
	}
	/* Past the frontier: a block start the page never handed out. */
	if (hpa_page_block_rot(pg, p) < hpa_classes[pg->cls].blocks)
		hpa_bad_pointer("hpa_free", p, "a block that was never allocated");
	hpa_bad_pointer("hpa_free", p, "not the start of a block");
}

static struct hpa_page *page_new(struct hpa_heap *h, unsigned int cls)
{
	unsigned int kind = hpa_seg_kind(hpa_classes[cls].units);
	struct hpa_segment *seg;
	struct hpa_page *pg = NULL;
	long idx;

	for (seg = h->segs[kind]; seg; seg = seg->next) {
		pg = hpa_segment_page_new(seg, cls);
		if (pg)
			break;
	}
	if (!pg) {
		seg = header_get();
		if (!seg)
			return NULL;
		idx = heap_small(h) ? hpa_pool_get_small(h->node, h->bind) :
		      hpa_pool_get(h->node, h->bind);
		if (idx < 0) {
			header_put(seg);
			return NULL;
		}
		hpa_segment_init(seg, hpa_chunk_addr((size_t)idx), h, h->node);
		hpa_chunk_to_segment((size_t)idx, seg);
		seg->kind = kind;
		seg_push(&h->segs[kind], seg);
		hpa_count_add(&h->nsegments, 1);
		pg = hpa_segment_page_new(seg, cls);
	}
	pg->heap = h;
	/* Node heaps keep their blocks: node memory goes back to its node. */
	pg->cl_off = (uint32_t)(h->shared ? offsetof(struct hpa_heap, direct) :
				offsetof(struct hpa_heap, cls[cls]));
	if (seg->free_units == 0) {
		seg_unlink(&h->segs[kind], seg);
		seg_push(&h->segs_full[kind], seg);
	}
	hpa_count_add(&h->cls[cls].pages, 1);
	return pg;
}

/*
 * The class's head page has no free word left (or there is no page yet):
 * collect remote frees, retire full head pages, carve a new page.
 */
void *hpa_heap_refill(struct hpa_heap *h, unsigned int cls)
{
	struct hpa_class_list *cl = &h->cls[cls];
	struct hpa_page *pg;

	collect_remote(h);
	if (cl->cache)
		return hpa_heap_alloc_cl(h, cl);
	for (;;) {
		pg = cl->avail;
		if (!pg) {
			pg = page_new(h, cls);
			if (!pg)
				return NULL;	/* the public caller sets errno */
			page_push(&cl->avail, pg);
		}
		while (pg->nonempty) {
			unsigned int w = (unsigned int)__builtin_ctzll(
					pg->nonempty);

			if (pg->free_map[w])
				return hpa_class_use_word(cl, pg, w);
			pg->nonempty &= pg->nonempty - 1;
		}
		/* No free block left: the next page becomes the head. */
		cl->word = &hpa_empty_word;
		page_unlink(&cl->avail, pg);
		pg->full = 1;
		page_push(&cl->full, pg);
	}
}

void *hpa_heap_alloc_slow(struct hpa_heap *h, unsigned int cls)
{
	void *b = hpa_heap_next_word(h, cls);

	return HPA_LIKELY(b) ? b : hpa_heap_refill(h, cls);
}

void *hpa_heap_alloc_locked(struct hpa_heap *h, unsigned int cls)
{
	void *p;

	hpa_lock(&h->lock);
	p = hpa_heap_alloc_unlocked(h, cls);
	hpa_unlock(&h->lock);
	return p;
}

void hpa_heap_abandon(struct hpa_heap *h)
{
	unsigned int c;

	collect_remote(h);
	for (c = 0; c < HPA_NCLASSES; c++)
		hpa_heap_cache_flush(h, &h->cls[c], 0);
	for (c = 0; c < HPA_NCLASSES; c++) {
		struct hpa_page *pg = h->cls[c].avail, *next;

		for (; pg; pg = next) {
			next = pg->next;
			if (pg->used == 0)
				page_release(h, pg);
		}
	}
	hpa_lock(&hpa_heaps_lock);
	h->abandoned = true;
	h->next_abandoned = abandoned;
	abandoned = h;
	hpa_unlock(&hpa_heaps_lock);
}

void hpa_heaps_lock_all(void)
{
	int n;

	hpa_lock(&hpa_heaps_lock);
	for (n = 0; n < HPA_MAX_NODES; n++)
		if (node_heaps[n])
			hpa_lock(&node_heaps[n]->lock);
	hpa_lock(&header_lock);
}

void hpa_heaps_unlock_all(void)
{
	int n;

	hpa_unlock(&header_lock);
	for (n = 0; n < HPA_MAX_NODES; n++)
		if (node_heaps[n])
			hpa_unlock(&node_heaps[n]->lock);
	hpa_unlock(&hpa_heaps_lock);
}
