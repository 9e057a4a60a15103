// SPDX-License-Identifier: MIT
/*
 * The page pool below the heaps: free, committed chunks, one list per NUMA
 * node and page class (4 KiB, 2 MiB, 1 GiB: the page size the backend
 * mapped them with).  Each list is a segmented free list: chunk indices in
 * fixed-size blocks of metadata, so a free chunk's memory is never touched
 * (it may be a 1 GiB page nobody should fault in), behind an adaptive lock.
 *
 * Runs of several chunks (huge blocks) are kept whole in a small cache and
 * handed out again best-fit: a huge block needs contiguous addresses.  A
 * run given back merges with the cached runs next to it; a remnant of one
 * chunk left by a split goes to the chunk lists (segments use those,
 * and a later run request finds neighbouring list chunks again); a request
 * no cached run fits is put together from neighbouring list chunks, or
 * else the biggest cached run with free address space next to it grows
 * into that space, so that only what it lacks is committed fresh.  So a
 * loop of large malloc/free reuses what it committed instead of faulting
 * in (and zeroing) fresh pages, and a cached run too small for the later
 * blocks does not sit in the cache while fresh memory is committed.
 *
 * Retention: at most HPALLOC_RETAIN bytes stay committed in the pool
 * (unset: 64 MiB, and for big blocks' runs as much as the memory in use
 * when that is more, so that a program that cycles through blocks of
 * tens of MiB reuses them as it does small ones); a chunk given back
 * beyond that is decommitted at once (munmap, or the device's pages go
 * back to its node pool) and its address range returns to the arena.
 * A run given back when the budget is full evicts
 * smaller cached runs first (the one just freed is the likeliest to be
 * asked for again), so old remnants never hold the whole budget.
 */
#include <errno.h>
#include <string.h>

#include "fork.h"
#include "internal.h"

#define IDX_PER_BLOCK	((4096 - 16) / sizeof(uint32_t))

struct idx_block {
	struct idx_block *next;
	uint32_t n;
	uint32_t idx[IDX_PER_BLOCK];
};

/* 1 GiB pages are never kept (hpa_pool_put, hpa_pool_put_run). */
enum { PC_4K, PC_2M, PC_MAX };

struct pool_list {
	struct hpa_lock lock;
	struct idx_block *head;
	uint64_t count;
};

static struct pool_list pool[HPA_MAX_NODES][PC_MAX];
static struct idx_block *spare_blocks;
static struct hpa_lock spare_lock = HPA_LOCK_INIT;
static _Atomic uint64_t retained;

#define RUN_CACHE	64

struct run {
	uint32_t idx, n;
	int16_t node;
	bool bound;
};

static struct run runs[RUN_CACHE];
static unsigned int nruns;
static struct hpa_lock runs_lock = HPA_LOCK_INIT;

static int page_class(unsigned int shift)
{
	return shift >= 21 ? PC_2M : PC_4K;
}

static struct idx_block *block_new(void)
{
	struct idx_block *b;

	hpa_lock(&spare_lock);
	if (!spare_blocks) {
		size_t i, nb = 16;
		char *m = hpa_prim->meta_map(nb * sizeof(struct idx_block));

		for (i = 0; m && i < nb; i++) {
			b = (struct idx_block *)(m + i * sizeof(*b));
			b->next = spare_blocks;
			spare_blocks = b;
		}
	}
	b = spare_blocks;
	if (b)
		spare_blocks = b->next;
	hpa_unlock(&spare_lock);
	if (b) {
		b->next = NULL;
		b->n = 0;
	}
	return b;
}

static void block_free(struct idx_block *b)
{
	hpa_lock(&spare_lock);
	b->next = spare_blocks;
	spare_blocks = b;
	hpa_unlock(&spare_lock);
}

static bool list_push(struct pool_list *l, uint32_t idx)
{
	struct idx_block *b = l->head;

	if (!b || b->n == IDX_PER_BLOCK) {
		b = block_new();
		if (!b)
			return false;
		b->next = l->head;
		l->head = b;
	}
	b->idx[b->n++] = idx;
	l->count++;
	return true;
}

static long list_pop(struct pool_list *l)
{
	struct idx_block *b = l->head;
	long idx;

	if (!b)
		return -1;
	idx = b->idx[--b->n];
	l->count--;
	if (b->n == 0) {
		l->head = b->next;
		block_free(b);
	}
	return idx;
}

static void account(size_t idx, size_t n, int sign)
{
	size_t i;

	for (i = idx; i < idx + n; i++) {
		const struct hpa_chunk *c = &hpa_arena.map[i];
		int64_t bytes = sign * (int64_t)HPA_CHUNK_SIZE;

		hpa_stat_add(&hpa_gstats.bytes_mapped, bytes);
		hpa_stat_add(&hpa_gstats.be_bytes[c->backend], bytes);
		if (c->node >= 0 && c->node < HPA_STATS_MAX_NODES)
			hpa_stat_add(&hpa_gstats.node_bytes[c->node], bytes);
		if (c->page_shift == 30 && !(i % HPA_1G_CHUNKS))
			hpa_stat_add(&hpa_gstats.pages_1g, sign);
		else if (c->page_shift == 21)
			hpa_stat_add(&hpa_gstats.pages_2m, sign);
	}
}

void hpa_pool_rebackend(size_t idx, size_t n, const struct hpa_commit *out)
{
	account(idx, n, -1);
	hpa_chunks_rebackend(idx, n, out);
	account(idx, n, 1);
}

static int commit_range(size_t idx, size_t n, int node, bool bind,
			unsigned int flags)
{
	struct hpa_commit out;
	int err;

	err = hpa_prim->commit(hpa_chunk_addr(idx), n << HPA_CHUNK_SHIFT,
			       bind ? node : -1, flags, &out);
	if (err)
		return err;
	/* Counted here, for every backend: hpa_stats' fresh commits. */
	hpa_stat_add(&hpa_gstats.be_maps[out.backend], 1);
	if (out.fallback)
		hpa_stat_add(&hpa_gstats.fallbacks, 1);
	hpa_chunks_commit(idx, n, &out, node, bind);
	account(idx, n, 1);
	return 0;
}

/*
 * A run that starts 1 GiB aligned gets 1 GiB pages for its whole GiBs and
 * 2 MiB pages for the rest.
 */
int hpa_pool_commit(size_t idx, size_t n, int node, bool bind, bool allow_1g)
{
	size_t body = 0;
	int err;

	if (allow_1g && !(idx % HPA_1G_CHUNKS))
		body = n / HPA_1G_CHUNKS * HPA_1G_CHUNKS;
	if (body) {
		err = commit_range(idx, body, node, bind, true);
		if (err)
			return err;
	}
	if (body == n)
		return 0;
	err = commit_range(idx + body, n - body, node, bind, false);
	if (err && body)
		hpa_pool_release_keep_va(idx, body);
	return err;
}

/* Decommit [idx, idx+n) but keep the address range taken. */
void hpa_pool_release_keep_va(size_t idx, size_t n)
{
	account(idx, n, -1);
	if (hpa_prim->decommit(hpa_chunk_addr(idx), n << HPA_CHUNK_SHIFT))
		hpa_fatal("cannot unmap %zu chunks at %p\n", n,
			  hpa_chunk_addr(idx));
}

void hpa_pool_release(size_t idx, size_t n)
{
	hpa_pool_release_keep_va(idx, n);
	hpa_arena_give(idx, n);
}

static struct pool_list *list_for(int node, int pc)
{
	if (node < 0 || node >= HPA_MAX_NODES)
		node = 0;
	return &pool[node][pc];
}

/*
 * Retention: `retained` (bytes the lists and the run cache hold) changes
 * only here.  pool_keep reserves room for bytes within limit and says
 * whether it got it; pool_unkeep gives back what a kept chunk or run
 * counted once it leaves the pool, for reuse or for the OS.
 */
static bool pool_keep(uint64_t bytes, uint64_t limit)
{
	uint64_t have = atomic_load(&retained);

	do {
		if (have + bytes > limit)
			return false;
	} while (!atomic_compare_exchange_weak(&retained, &have, have + bytes));
	return true;
}

static void pool_unkeep(uint64_t bytes)
{
	atomic_fetch_sub(&retained, bytes);
}

/*
 * How much the pool may hold once a big block's run of bytes is given
 * back: HPALLOC_RETAIN as given (or set by mallopt); unset, its default or
 * the memory then still in use (mapped and not in the pool), whichever is
 * more, so that what the pool holds never exceeds what is in use.
 */
static uint64_t run_retain_limit(uint64_t bytes)
{
	uint64_t limit = (uint64_t)hpa_option_int(HPA_OPT_RETAIN);
	uint64_t mapped, held, in_use;

	if (hpa_option_given(HPA_OPT_RETAIN))
		return limit;
	mapped = atomic_load_explicit(&hpa_gstats.bytes_mapped,
				      memory_order_relaxed);
	held = atomic_load_explicit(&retained, memory_order_relaxed) + bytes;
	in_use = mapped > held ? mapped - held : 0;
	return in_use > limit ? in_use : limit;
}

/*
 * A popped chunk the request cannot use goes back on its list still
 * counted: it never left the pool.  Without a list block for it, it
 * leaves the pool after all.
 */
static void list_push_back(struct pool_list *l, size_t idx)
{
	bool kept;

	hpa_lock(&l->lock);
	kept = list_push(l, (uint32_t)idx);
	hpa_unlock(&l->lock);
	if (!kept) {
		pool_unkeep(HPA_CHUNK_SIZE);
		hpa_pool_release(idx, 1);
	}
}

long hpa_pool_get(int node, bool bind)
{
	static const int order[] = { PC_2M, PC_4K };
	size_t i;
	long idx;

	if (node < 0)
		node = hpa_prim->current_node();
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		struct pool_list *l = list_for(node, order[i]);

		hpa_lock(&l->lock);
		idx = list_pop(l);
		hpa_unlock(&l->lock);
		/* A bound request takes only chunks bound to the node. */
		if (idx >= 0 && bind && !hpa_arena.map[idx].bound) {
			list_push_back(l, (size_t)idx);
			continue;
		}
		if (idx >= 0) {
			pool_unkeep(HPA_CHUNK_SIZE);
			hpa_chunks_claim((size_t)idx, 1);
			return idx;
		}
	}
	/* Cut one chunk off a cached run rather than commit a fresh one. */
	idx = hpa_pool_get_run(1, node, bind);
	if (idx >= 0)
		return idx;
	idx = hpa_arena_take(1, 1, false);
	if (idx < 0)
		return -ENOMEM;
	if (hpa_pool_commit((size_t)idx, 1, node, bind, false)) {
		hpa_arena_give((size_t)idx, 1);
		return -ENOMEM;
	}
	return idx;
}

void hpa_pool_put(size_t idx)
{
	const struct hpa_chunk *c = &hpa_arena.map[idx];
	struct pool_list *l = list_for(c->node, page_class(c->page_shift));
	uint64_t limit = (uint64_t)hpa_option_int(HPA_OPT_RETAIN);
	bool kept = false;

	if (c->page_shift < 30 && pool_keep(HPA_CHUNK_SIZE, limit)) {
		hpa_chunks_to_pool(idx, 1);
		hpa_lock(&l->lock);
		kept = list_push(l, (uint32_t)idx);
		hpa_unlock(&l->lock);
		if (!kept)
			pool_unkeep(HPA_CHUNK_SIZE);
	}
	if (!kept)
		hpa_pool_release(idx, 1);
}

void hpa_pool_stats(uint64_t *ret)
{
	*ret = atomic_load(&retained);
}

/*
 * Lock order: runs_lock, then a list lock, then spare_lock (list_push takes
 * spare_lock under a list lock).  fork() takes them all in that order.
 */
void hpa_pool_lock_all(void)
{
	int n, pc;

	hpa_lock(&runs_lock);
	for (n = 0; n < HPA_MAX_NODES; n++)
		for (pc = 0; pc < PC_MAX; pc++)
			hpa_lock(&pool[n][pc].lock);
	hpa_lock(&spare_lock);
}

void hpa_pool_unlock_all(void)
{
	int n, pc;

	hpa_unlock(&spare_lock);
	for (n = 0; n < HPA_MAX_NODES; n++)
		for (pc = 0; pc < PC_MAX; pc++)
			hpa_unlock(&pool[n][pc].lock);
	hpa_unlock(&runs_lock);
}

/* ---- runs ------------------------------------------------------------ */

/* Remnants this small go to the chunk lists instead of the run cache. */
#define RUN_REMNANT_MAX	1

static bool run_matches(const struct run *r, int node, bool bind)
{
	return r->bound == bind && (!bind || r->node == node);
}

/* Same node, binding, backend and page size: may be one run. */
static bool chunks_mergeable(size_t a, size_t b)
{
	const struct hpa_chunk *x = &hpa_arena.map[a], *y = &hpa_arena.map[b];

	return x->node == y->node && x->bound == y->bound &&
	       x->backend == y->backend && x->page_shift == y->page_shift &&
	       x->page_shift < 30;
}

static void run_remove(unsigned int i)
{
	runs[i] = runs[--nruns];
}

/* Under runs_lock: the chunks of [idx, idx+n) to the chunk lists. */
static size_t remnant_to_lists(size_t idx, size_t n)
{
	size_t i, kept = 0;

	for (i = idx; i < idx + n; i++) {
		const struct hpa_chunk *c = &hpa_arena.map[i];
		struct pool_list *l = list_for(c->node,
					       page_class(c->page_shift));
		bool ok;

		hpa_lock(&l->lock);
		ok = list_push(l, (uint32_t)i);
		hpa_unlock(&l->lock);
		if (!ok)
			break;
		kept++;
	}
	return kept;
}

/* Shell sort: qsort may call malloc, and this runs under runs_lock. */
static void sort_u32(uint32_t *v, size_t n)
{
	static const size_t gaps[] = { 132, 57, 23, 10, 4, 1 };
	size_t g, i, j;

	for (g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
		for (i = gaps[g]; i < n; i++) {
			uint32_t x = v[i];

			for (j = i; j >= gaps[g] && v[j - gaps[g]] > x;
			     j -= gaps[g])
				v[j] = v[j - gaps[g]];
			v[j] = x;
		}
	}
}

/* Take the entries [w, w+n) out of list l (all of them are in it). */
static void list_take_range(struct pool_list *l, uint32_t w, size_t n)
{
	struct idx_block **pb = &l->head, *b;

	while ((b = *pb)) {
		uint32_t i, j = 0;

		for (i = 0; i < b->n; i++)
			if (b->idx[i] - w >= n)
				b->idx[j++] = b->idx[i];
		b->n = j;
		if (!j && b != l->head) {
			*pb = b->next;
			block_free(b);
			continue;
		}
		pb = &b->next;
	}
	b = l->head;
	if (b && !b->n) {
		l->head = b->next;
		block_free(b);
	}
	l->count -= n;
}

#define WINDOW_SCAN	512

/*
 * Under runs_lock: take chunk j out of its chunk list if it is there and
 * may join the run that chunk like is in.  Only the list's own entries are
 * read to decide (the chunk map entry of a chunk in no list may be changing
 * under another thread).
 */
static bool chunk_from_lists(size_t j, size_t like)
{
	const struct hpa_chunk *c = &hpa_arena.map[like];
	struct pool_list *l = list_for(c->node, page_class(c->page_shift));
	struct idx_block *b;
	bool found = false;
	uint32_t i;

	hpa_lock(&l->lock);
	for (b = l->head; b && !found; b = b->next)
		for (i = 0; i < b->n; i++)
			if (b->idx[i] == j) {
				found = true;
				break;
			}
	if (found && chunks_mergeable(j, like))
		list_take_range(l, (uint32_t)j, 1);
	else
		found = false;
	hpa_unlock(&l->lock);
	return found;
}

/*
 * Under runs_lock: n neighbouring chunks from the chunk lists of node (the
 * first WINDOW_SCAN entries of each list are looked at), taken out of the
 * lists; -1 when there are none.
 */
static long window_from_lists(size_t n, int node, bool bind)
{
	static const int order[] = { PC_2M, PC_4K };
	uint32_t v[WINDOW_SCAN];
	unsigned int k;

	if (node < 0)
		node = hpa_prim->current_node();
	for (k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		struct pool_list *l = list_for(node, order[k]);
		struct idx_block *b;
		size_t cnt = 0, i, run = 0;
		long found = -1;

		hpa_lock(&l->lock);
		if (l->count < n) {
			hpa_unlock(&l->lock);
			continue;
		}
		for (b = l->head; b && cnt < WINDOW_SCAN; b = b->next)
			for (i = 0; i < b->n && cnt < WINDOW_SCAN; i++)
				v[cnt++] = b->idx[i];
		sort_u32(v, cnt);
		for (i = 0; i < cnt && found < 0; i++) {
			const struct hpa_chunk *c = &hpa_arena.map[v[i]];

			if (c->bound != bind || (bind && c->node != node)) {
				run = 0;
				continue;
			}
			if (run && v[i] == v[i - 1] + 1 &&
			    chunks_mergeable(v[i - 1], v[i]))
				run++;
			else
				run = 1;
			if (run == n)
				found = (long)v[i] - (long)n + 1;
		}
		if (found >= 0)
			list_take_range(l, (uint32_t)found, n);
		hpa_unlock(&l->lock);
		if (found >= 0)
			return found;
	}
	return -1;
}

/*
 * Under runs_lock: the biggest cached run smaller than n chunks that the
 * free address space right after it (else right before it) makes n
 * chunks long, that space taken from the arena; its slot, or RUN_CACHE.
 * *at is where the n chunks start.
 */
static unsigned int run_to_grow(size_t n, int node, bool bind, size_t *at)
{
	bool tried[RUN_CACHE] = { false };
	unsigned int i;

	for (;;) {
		unsigned int g = RUN_CACHE;
		const struct run *r;
		size_t more;

		for (i = 0; i < nruns; i++)
			if (!tried[i] && runs[i].n < n &&
			    run_matches(&runs[i], node, bind) &&
			    (g == RUN_CACHE || runs[i].n > runs[g].n))
				g = i;
		if (g == RUN_CACHE)
			return RUN_CACHE;
		tried[g] = true;
		r = &runs[g];
		more = n - r->n;
		if (hpa_arena_take_at(r->idx + r->n, more)) {
			*at = r->idx;
			return g;
		}
		if (r->idx >= more && hpa_arena_take_at(r->idx - more, more)) {
			*at = r->idx - more;
			return g;
		}
	}
}

/*
 * Grow cached run r (out of the cache, not counted any more) to n chunks
 * at at, whose free address space is taken: commit the part it lacks.
 * at, or -1 with r given back and the space with it.
 */
static long run_grow(struct run r, size_t n, size_t at, int node, bool bind)
{
	size_t more = n - r.n;
	size_t ext = at == r.idx ? r.idx + r.n : at;

	hpa_chunks_claim(r.idx, r.n);
	if (hpa_pool_commit(ext, more, node, bind, false)) {
		hpa_arena_give(ext, more);
		hpa_pool_put_run(r.idx, r.n);
		return -1;
	}
	/* The head is fresh but the run is not: calloc must zero it. */
	if (at != r.idx)
		hpa_chunk_take_fresh(at);
	return (long)at;
}

long hpa_pool_get_run(size_t n, int node, bool bind)
{
	unsigned int i, best = RUN_CACHE, grow = RUN_CACHE;
	size_t rest = 0, rest_idx = 0, at = 0;
	struct run g = { 0 };
	long idx = -1;

	if (n > UINT32_MAX)
		return -1;
	hpa_lock(&runs_lock);
	for (i = 0; i < nruns; i++) {
		if (runs[i].n < n || !run_matches(&runs[i], node, bind))
			continue;
		if (best == RUN_CACHE || runs[i].n < runs[best].n)
			best = i;
	}
	if (best < RUN_CACHE) {
		idx = runs[best].idx;
		rest = runs[best].n - n;
		rest_idx = (size_t)idx + n;
		if (rest > RUN_REMNANT_MAX) {
			runs[best].idx += (uint32_t)n;
			runs[best].n -= (uint32_t)n;
			rest = 0;
		} else {
			run_remove(best);
		}
	} else if (n > 1) {
		idx = window_from_lists(n, node, bind);
		if (idx < 0)
			grow = run_to_grow(n, node, bind, &at);
		if (grow < RUN_CACHE) {
			g = runs[grow];
			run_remove(grow);
		}
	}
	if (rest) {
		size_t kept = remnant_to_lists(rest_idx, rest);

		/* No list block for the rest: keep it cached as a run. */
		if (kept < rest)
			runs[nruns++] = (struct run){
				(uint32_t)(rest_idx + kept),
				(uint32_t)(rest - kept),
				hpa_arena.map[rest_idx].node,
				hpa_arena.map[rest_idx].bound };
	}
	hpa_unlock(&runs_lock);
	if (grow < RUN_CACHE) {
		pool_unkeep((uint64_t)g.n << HPA_CHUNK_SHIFT);
		return run_grow(g, n, at, node, bind);
	}
	if (idx >= 0) {
		pool_unkeep(n << HPA_CHUNK_SHIFT);
		hpa_chunks_claim((size_t)idx, n);
	}
	return idx;
}

/*
 * Under runs_lock: make room for bytes more within limit by giving cached
 * runs smaller than n chunks back to the OS, smallest first.  False when
 * that cannot make enough room.
 */
static bool evict_smaller(size_t n, uint64_t bytes, uint64_t limit)
{
	uint64_t have = atomic_load(&retained), evictable = 0;
	unsigned int i;

	if (bytes > limit)
		return false;
	for (i = 0; i < nruns; i++)
		if (runs[i].n < n)
			evictable += (uint64_t)runs[i].n << HPA_CHUNK_SHIFT;
	if (have + bytes > limit + evictable)
		return false;
	/* retained moves under other threads: re-read it, stop when done. */
	while (have + bytes > limit) {
		unsigned int s = RUN_CACHE;
		struct run r;

		for (i = 0; i < nruns; i++)
			if (runs[i].n < n && (s == RUN_CACHE ||
					      runs[i].n < runs[s].n))
				s = i;
		if (s == RUN_CACHE)
			return false;
		r = runs[s];
		run_remove(s);
		pool_unkeep((uint64_t)r.n << HPA_CHUNK_SHIFT);
		hpa_pool_release(r.idx, r.n);
		have = atomic_load(&retained);
	}
	return true;
}

void hpa_pool_put_run(size_t idx, size_t n)
{
	const struct hpa_chunk *c = &hpa_arena.map[idx];
	uint64_t bytes = n << HPA_CHUNK_SHIFT;
	uint64_t limit = run_retain_limit(bytes);
	bool kept = false;
	unsigned int i;

	if (c->page_shift >= 30 || n > UINT32_MAX) {
		hpa_pool_release(idx, n);
		return;
	}
	hpa_lock(&runs_lock);
	if (!pool_keep(bytes, limit) &&
	    !(evict_smaller(n, bytes, limit) && pool_keep(bytes, limit)))
		goto out;
	hpa_chunks_to_pool(idx, n);
	/* Take in the chunks around it that sit in the chunk lists... */
	while (idx > 0 && chunk_from_lists(idx - 1, idx)) {
		idx--;
		n++;
	}
	while (idx + n < hpa_arena.nchunks && chunk_from_lists(idx + n, idx))
		n++;
	/* ...and merge with the cached runs right before and after it. */
	for (i = 0; i < nruns; i++) {
		struct run *r = &runs[i];

		if (r->idx + r->n == idx && chunks_mergeable(r->idx, idx)) {
			idx = r->idx;
			n += r->n;
		} else if (idx + n == r->idx &&
			   chunks_mergeable(idx, r->idx)) {
			n += r->n;
		} else {
			continue;
		}
		run_remove(i);
		i = (unsigned int)-1;	/* rescan: it may touch another */
	}
	if (nruns == RUN_CACHE) {
		/* Full: the smallest cached run makes room (to the lists). */
		unsigned int s = 0;
		struct run r;

		for (i = 1; i < nruns; i++)
			if (runs[i].n < runs[s].n)
				s = i;
		r = runs[s];
		if (r.n <= n) {
			size_t moved;

			run_remove(s);
			moved = remnant_to_lists(r.idx, r.n);
			if (moved < r.n) {
				pool_unkeep((uint64_t)(r.n - moved) <<
					    HPA_CHUNK_SHIFT);
				hpa_pool_release(r.idx + moved, r.n - moved);
			}
		}
	}
	if (nruns < RUN_CACHE) {
		runs[nruns++] = (struct run){ (uint32_t)idx, (uint32_t)n,
					      c->node, c->bound };
		kept = true;
	} else {
		pool_unkeep(bytes);
		hpa_chunks_claim(idx, n);
	}
out:
	hpa_unlock(&runs_lock);
	if (!kept)
		hpa_pool_release(idx, n);
}

/* ---- trim (malloc_trim) ---------------------------------------------- */

/*
 * Give every retained chunk and run back to the OS; bytes released.  Pops
 * under the locks, decommits outside them.
 */
size_t hpa_pool_trim(void)
{
	size_t released = 0;
	struct run r;
	int node, pc;
	long idx;

	for (node = 0; node < HPA_MAX_NODES; node++) {
		for (pc = 0; pc < PC_MAX; pc++) {
			struct pool_list *l = &pool[node][pc];

			for (;;) {
				hpa_lock(&l->lock);
				idx = list_pop(l);
				hpa_unlock(&l->lock);
				if (idx < 0)
					break;
				pool_unkeep(HPA_CHUNK_SIZE);
				hpa_pool_release((size_t)idx, 1);
				released += HPA_CHUNK_SIZE;
			}
		}
	}
	for (;;) {
		hpa_lock(&runs_lock);
		r.n = 0;
		if (nruns)
			r = runs[--nruns];
		hpa_unlock(&runs_lock);
		if (!r.n)
			break;
		pool_unkeep((uint64_t)r.n << HPA_CHUNK_SHIFT);
		hpa_pool_release(r.idx, r.n);
		released += (size_t)r.n << HPA_CHUNK_SHIFT;
	}
	return released;
}

/* ---- small heaps (HPALLOC_SMALL_START) -------------------------------- */

/*
 * A chunk on 4 KiB pages: only the pages a heap touches count in RSS, so a
 * thread holding a few KiB does not cost a whole 2 MiB page.  Retained
 * 4 KiB chunks first, then a fresh commit.
 */
long hpa_pool_get_small(int node, bool bind)
{
	struct pool_list *l;
	long idx;

	if (node < 0)
		node = hpa_prim->current_node();
	l = list_for(node, PC_4K);
	hpa_lock(&l->lock);
	idx = list_pop(l);
	hpa_unlock(&l->lock);
	if (idx >= 0 && bind != (bool)hpa_arena.map[idx].bound) {
		list_push_back(l, (size_t)idx);
		idx = -1;
	}
	if (idx >= 0) {
		pool_unkeep(HPA_CHUNK_SIZE);
		hpa_chunks_claim((size_t)idx, 1);
		return idx;
	}
	idx = hpa_arena_take(1, 1, false);
	if (idx < 0)
		return -ENOMEM;
	if (commit_range((size_t)idx, 1, node, bind, HPA_COMMIT_SMALL)) {
		hpa_arena_give((size_t)idx, 1);
		return -ENOMEM;
	}
	return idx;
}
