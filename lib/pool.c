// SPDX-License-Identifier: MIT
/*
 * The page pool below the heaps: free, committed chunks, one list per NUMA
 * node and page class (4 KiB, 2 MiB, 1 GiB: the page size the backend
 * mapped them with).  Each list is a segmented free list: chunk indices in
 * fixed-size blocks of metadata, so a free chunk's memory is never touched
 * (it may be a 1 GiB page nobody should fault in), behind an adaptive lock.
 *
 * Runs of several chunks (huge blocks) are kept whole in a small cache and
 * handed out again best-fit, split when larger than asked: a huge block
 * needs contiguous addresses, which single pooled chunks rarely are.
 *
 * Retention: at most HPALLOC_RETAIN bytes (default 64 MiB) stay committed in
 * the pool; a chunk given back beyond that is decommitted at once (munmap,
 * or the device's pages go back to its node pool) and its address range
 * returns to the arena.
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

enum { PC_4K, PC_2M, PC_1G, PC_MAX };

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
	return shift >= 30 ? PC_1G : shift >= 21 ? PC_2M : PC_4K;
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
		struct hpa_chunk *c = &hpa_arena.map[i];
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
	size_t i;

	account(idx, n, -1);
	for (i = idx; i < idx + n; i++) {
		hpa_arena.map[i].backend = out->backend;
		hpa_arena.map[i].page_shift = out->page_shift;
	}
	account(idx, n, 1);
}

static int commit_range(size_t idx, size_t n, int node, bool bind,
			unsigned int flags)
{
	struct hpa_commit out;
	size_t i;
	int err;

	err = hpa_prim->commit(hpa_chunk_addr(idx), n << HPA_CHUNK_SHIFT,
			       bind ? node : -1, flags, &out);
	if (err)
		return err;
	if (out.fallback)
		hpa_stat_add(&hpa_gstats.fallbacks, 1);
	for (i = idx; i < idx + n; i++) {
		struct hpa_chunk *c = &hpa_arena.map[i];

		c->kind = HPA_CHUNK_CLAIMED;
		c->backend = out.backend;
		c->page_shift = out.page_shift;
		c->fresh = 1;
		c->node = (int16_t)node;
		c->bound = bind;
	}
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
			hpa_pool_put((size_t)idx);
			continue;
		}
		if (idx >= 0) {
			atomic_fetch_sub(&retained, HPA_CHUNK_SIZE);
			hpa_arena.map[idx].kind = HPA_CHUNK_CLAIMED;
			return idx;
		}
	}
	idx = hpa_arena_take(1, 1, false);
	if (idx < 0) {
		errno = ENOMEM;
		return -1;
	}
	if (hpa_pool_commit((size_t)idx, 1, node, bind, false)) {
		hpa_arena_give((size_t)idx, 1);
		errno = ENOMEM;
		return -1;
	}
	return idx;
}

void hpa_pool_put(size_t idx)
{
	struct hpa_chunk *c = &hpa_arena.map[idx];
	struct pool_list *l = list_for(c->node, page_class(c->page_shift));
	uint64_t limit = (uint64_t)hpa_option_int(HPA_OPT_RETAIN);
	bool kept = false;

	if (atomic_fetch_add(&retained, HPA_CHUNK_SIZE) + HPA_CHUNK_SIZE <=
	    limit && c->page_shift < 30) {
		c->kind = HPA_CHUNK_POOL;
		c->fresh = 0;
		hpa_lock(&l->lock);
		kept = list_push(l, (uint32_t)idx);
		hpa_unlock(&l->lock);
	}
	if (!kept) {
		atomic_fetch_sub(&retained, HPA_CHUNK_SIZE);
		hpa_pool_release(idx, 1);
	}
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


long hpa_pool_get_run(size_t n, int node, bool bind)
{
	unsigned int i, best = RUN_CACHE;
	long idx = -1;

	if (n > UINT32_MAX)
		return -1;
	hpa_lock(&runs_lock);
	for (i = 0; i < nruns; i++) {
		if (runs[i].n < n || runs[i].bound != bind ||
		    (bind && runs[i].node != node))
			continue;
		if (best == RUN_CACHE || runs[i].n < runs[best].n)
			best = i;
	}
	if (best < RUN_CACHE) {
		idx = runs[best].idx;
		if (runs[best].n > n) {
			runs[best].idx += (uint32_t)n;
			runs[best].n -= (uint32_t)n;
		} else {
			runs[best] = runs[--nruns];
		}
	}
	hpa_unlock(&runs_lock);
	if (idx >= 0) {
		atomic_fetch_sub(&retained, n << HPA_CHUNK_SHIFT);
		for (i = 0; i < n; i++)
			hpa_arena.map[(size_t)idx + i].kind = HPA_CHUNK_CLAIMED;
	}
	return idx;
}

void hpa_pool_put_run(size_t idx, size_t n)
{
	struct hpa_chunk *c = &hpa_arena.map[idx];
	uint64_t limit = (uint64_t)hpa_option_int(HPA_OPT_RETAIN);
	uint64_t bytes = n << HPA_CHUNK_SHIFT;
	bool kept = false;
	size_t i;

	if (atomic_fetch_add(&retained, bytes) + bytes <= limit &&
	    c->page_shift < 30 && n <= UINT32_MAX) {
		for (i = idx; i < idx + n; i++) {
			hpa_arena.map[i].kind = HPA_CHUNK_POOL;
			hpa_arena.map[i].fresh = 0;
		}
		hpa_lock(&runs_lock);
		if (nruns < RUN_CACHE) {
			runs[nruns++] = (struct run){ (uint32_t)idx, (uint32_t)n,
						      c->node, c->bound };
			kept = true;
		}
		hpa_unlock(&runs_lock);
	}
	if (!kept) {
		atomic_fetch_sub(&retained, bytes);
		hpa_pool_release(idx, n);
	}
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
				atomic_fetch_sub(&retained, HPA_CHUNK_SIZE);
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
		atomic_fetch_sub(&retained, (uint64_t)r.n << HPA_CHUNK_SHIFT);
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
		hpa_pool_put((size_t)idx);
		idx = -1;
	}
	if (idx >= 0) {
		atomic_fetch_sub(&retained, HPA_CHUNK_SIZE);
		hpa_arena.map[idx].kind = HPA_CHUNK_CLAIMED;
		return idx;
	}
	idx = hpa_arena_take(1, 1, false);
	if (idx < 0) {
		errno = ENOMEM;
		return -1;
	}
	if (commit_range((size_t)idx, 1, node, bind, HPA_COMMIT_SMALL)) {
		hpa_arena_give((size_t)idx, 1);
		errno = ENOMEM;
		return -1;
	}
	return idx;
}
