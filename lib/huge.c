// SPDX-License-Identifier: MIT
/*
 * Blocks larger than HPA_SMALL_MAX (1 MiB): runs of whole 2 MiB chunks,
 * 1 GiB aligned and mapped with 1 GiB pages when the run is 1 GiB or more
 * and the backend has them.  Freed blocks go to the page pool's run cache
 * (pool.c), which hands them out again and merges neighbours.
 *
 * Growth without copy (hpa_realloc): first try to take the chunks right
 * after the run and map them (in place); else take a new range and move
 * the pages there with the backend's move (mremap), mapping only the new
 * tail.  Bytes are copied only when the backend cannot move pages, and the
 * copy is counted in hpa_stats.realloc_copies.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static size_t chunks_for(size_t size)
{
	return (size + HPA_CHUNK_MASK) >> HPA_CHUNK_SHIFT;
}

static bool want_1g(size_t n)
{
	return n >= HPA_1G_CHUNKS && hpa_option_int(HPA_OPT_PAGE_1G) &&
	       hpa_prim->has_1g();
}

void *hpa_huge_alloc(size_t size, size_t align, int node)
{
	size_t n, align_chunks = 1;
	long idx;
	bool bind = node >= 0;

	if (size > hpa_arena.size || align > hpa_arena.size)
		return NULL;
	n = size ? chunks_for(size) : 1;
	if (align > HPA_CHUNK_SIZE)
		align_chunks = align >> HPA_CHUNK_SHIFT;
	if (node < 0)
		node = hpa_prim->current_node();
	if (want_1g(n) && align_chunks < HPA_1G_CHUNKS)
		align_chunks = HPA_1G_CHUNKS;
	/*
	 * Big blocks, one chunk or more, live in the run cache's part of the
	 * reservation (the top), where a freed one merges with its
	 * neighbours; segments take single chunks from the bottom.
	 */
	if (align_chunks == 1) {
		idx = hpa_pool_get_run(n, node, bind);
		if (idx >= 0)
			goto found;
	}
	idx = hpa_arena_take(n, align_chunks, true);
	if (idx < 0 || hpa_pool_commit((size_t)idx, n, node, bind,
				       want_1g(n))) {
		if (idx >= 0)
			hpa_arena_give((size_t)idx, n);
		return NULL;
	}
found:
	hpa_chunks_mark_huge((size_t)idx, n, size);
	hpa_stat_add(&hpa_gstats.huge_in_use, (int64_t)(n << HPA_CHUNK_SHIFT));
	return hpa_chunk_addr((size_t)idx);
}

static void release_run(size_t idx, size_t n)
{
	/* 1 GiB pages cannot be split: they go back to the OS whole. */
	if (hpa_arena.map[idx].page_shift >= 30) {
		hpa_pool_release(idx, n);
		return;
	}
	hpa_pool_put_run(idx, n);
}

void hpa_huge_free(size_t idx, const void *p)
{
	const struct hpa_chunk *c = &hpa_arena.map[idx];
	size_t n = c->nchunks;

	if (p != hpa_chunk_addr(idx))
		hpa_bad_pointer("hpa_free", p, "not the start of a block");
	hpa_stat_add(&hpa_gstats.huge_in_use, -(int64_t)(n << HPA_CHUNK_SHIFT));
	release_run(idx, n);
}

size_t hpa_huge_usable(size_t idx, const void *p)
{
	(void)p;
	return (size_t)hpa_arena.map[idx].nchunks << HPA_CHUNK_SHIFT;
}

/*
 * Map the new tail first, then move the old pages in front of it, so that a
 * failure at any step leaves the block valid where it was.  The new first
 * chunk's index, or -ENOMEM: no memory; -EOPNOTSUPP: the backend cannot
 * move the pages (the caller copies).
 */
static long move_run(size_t idx, size_t n, size_t new_n, size_t size)
{
	struct hpa_chunk head = hpa_arena.map[idx];
	size_t align = want_1g(new_n) ? HPA_1G_CHUNKS : 1;
	long to = hpa_arena_take(new_n, align, true);
	int err;

	if (to < 0)
		return -ENOMEM;
	if (hpa_pool_commit((size_t)to + n, new_n - n, head.node, head.bound,
			    false)) {
		hpa_arena_give((size_t)to, new_n);
		return -ENOMEM;
	}
	err = hpa_prim->move(hpa_chunk_addr(idx), hpa_chunk_addr((size_t)to),
			     n << HPA_CHUNK_SHIFT);
	if (err) {
		hpa_pool_release((size_t)to + n, new_n - n);
		hpa_arena_give((size_t)to, n);
		return -EOPNOTSUPP;
	}
	/* The pages moved: their map entries move with them. */
	hpa_chunks_move((size_t)to, idx, n);
	hpa_arena_give(idx, n);
	hpa_chunks_mark_huge((size_t)to, new_n, size);
	hpa_stat_add(&hpa_gstats.realloc_remaps, 1);
	hpa_stat_add(&hpa_gstats.huge_in_use,
		     (int64_t)((new_n - n) << HPA_CHUNK_SHIFT));
	return to;
}

int hpa_huge_realloc(size_t idx, void *p, size_t size, void **out)
{
	const struct hpa_chunk *c = &hpa_arena.map[idx];
	size_t n = c->nchunks, new_n;
	void *q;
	long moved;

	if (p != hpa_chunk_addr(idx))
		hpa_bad_pointer("hpa_realloc", p, "not the start of a block");
	if (size > hpa_arena.size)
		return -ENOMEM;
	new_n = chunks_for(size);
	if (new_n <= n) {
		if (new_n < n && c->page_shift < 30) {
			hpa_stat_add(&hpa_gstats.huge_in_use,
				     -(int64_t)((n - new_n) << HPA_CHUNK_SHIFT));
			release_run(idx + new_n, n - new_n);
			hpa_chunks_mark_huge(idx, new_n, size);
		} else {
			hpa_chunks_mark_huge(idx, n, size);
		}
		*out = p;
		return 0;
	}
	if (hpa_arena_take_at(idx + n, new_n - n)) {
		if (hpa_pool_commit(idx + n, new_n - n, c->node, c->bound,
				    false) == 0) {
			hpa_chunks_mark_huge(idx, new_n, size);
			hpa_stat_add(&hpa_gstats.realloc_in_place, 1);
			hpa_stat_add(&hpa_gstats.huge_in_use,
				     (int64_t)((new_n - n) << HPA_CHUNK_SHIFT));
			*out = p;
			return 0;
		}
		/* Whatever the backend said, malloc's word for it is ENOMEM. */
		hpa_arena_give(idx + n, new_n - n);
		return -ENOMEM;
	}
	moved = move_run(idx, n, new_n, size);
	if (moved >= 0) {
		*out = hpa_chunk_addr((size_t)moved);
		return 0;
	}
	if (moved != -EOPNOTSUPP)
		return (int)moved;
	/* The backend cannot move pages: copy (counted). */
	q = hpa_huge_alloc(size, 0, c->bound ? c->node : -1);
	if (!q)
		return -ENOMEM;
	memcpy(q, p, n << HPA_CHUNK_SHIFT);
	hpa_huge_free(idx, p);
	hpa_stat_add(&hpa_gstats.realloc_copies, 1);
	*out = q;
	return 0;
}
