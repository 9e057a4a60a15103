// SPDX-License-Identifier: MIT
/*
 * The virtual address reservation: one PROT_NONE, MAP_NORESERVE range,
 * 1 GiB aligned, HPALLOC_RESERVE bytes (default 1 TiB; at most half of
 * what RLIMIT_AS leaves, halved until the kernel accepts it, down to
 * HPA_RESERVE_MIN, 8 MiB; below 2 GiB it is only 2 MiB aligned).  It is cut into 2 MiB chunks; a bit
 * per chunk says whether its address range is taken and an entry per chunk
 * (the chunk map) says what it holds.  Every segment, huge block and DMA
 * buffer lives here, so free() finds a block's chunk by masking.
 *
 * Segments are taken from the bottom half and huge runs from the top half,
 * leaving room after each huge run so that hpa_realloc can grow it in place.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

struct hpa_arena hpa_arena = { .lock = HPA_LOCK_INIT };

int hpa_arena_init(size_t reserve)
{
	size_t want = hpa_align_up(reserve > HPA_RESERVE_MIN ? reserve :
				   HPA_RESERVE_MIN, HPA_CHUNK_SIZE);
	size_t size = want;
	void *base = hpa_prim->reserve(&size, HPA_RESERVE_MIN, HPA_GiB);
	size_t words;

	if (!base)
		return -ENOMEM;
	if (size < want)
		hpa_debug("reserved %zu MiB of address space, not %zu MiB: "
			  "RLIMIT_AS (ulimit -v) or the address space allows "
			  "no more; blocks beyond it fail with ENOMEM\n",
			  size >> 20, want >> 20);
	hpa_arena.nchunks = size >> HPA_CHUNK_SHIFT;
	words = (hpa_arena.nchunks + 63) / 64;
	hpa_arena.used = hpa_prim->meta_map(words * sizeof(uint64_t));
	hpa_arena.map = hpa_prim->meta_map(hpa_arena.nchunks *
					   sizeof(struct hpa_chunk));
	hpa_arena.pages = hpa_prim->meta_map((size >> HPA_UNIT_SHIFT) *
					     sizeof(struct hpa_page *));
	if (!hpa_arena.used || !hpa_arena.map || !hpa_arena.pages)
		return -ENOMEM;
	hpa_arena.base = base;
	hpa_arena.base_chunk = (uintptr_t)base >> HPA_CHUNK_SHIFT;
	hpa_arena.size = size;
	hpa_arena.low_hint = 0;
	hpa_arena.high_hint = hpa_arena.nchunks / 2;
	return 0;
}

static bool chunk_used(size_t i)
{
	return hpa_arena.used[i / 64] >> (i % 64) & 1;
}

/* First used chunk in [i, end), or end. */
static size_t next_used(size_t i, size_t end)
{
	while (i < end) {
		uint64_t w = hpa_arena.used[i / 64] >> (i % 64);

		if (w)
			return i + (size_t)__builtin_ctzll(w) < end ?
			       i + (size_t)__builtin_ctzll(w) : end;
		i = (i | 63) + 1;
	}
	return end;
}

/* First free chunk in [i, end), or end. */
static size_t next_free(size_t i, size_t end)
{
	while (i < end) {
		uint64_t w = ~hpa_arena.used[i / 64] >> (i % 64);

		if (w)
			return i + (size_t)__builtin_ctzll(w) < end ?
			       i + (size_t)__builtin_ctzll(w) : end;
		i = (i | 63) + 1;
	}
	return end;
}

static void mark(size_t idx, size_t n, bool used)
{
	size_t i;

	for (i = idx; i < idx + n; i++) {
		if (used)
			hpa_arena.used[i / 64] |= 1ULL << (i % 64);
		else
			hpa_arena.used[i / 64] &= ~(1ULL << (i % 64));
	}
}

/*
 * Index at or after i whose address is a multiple of align chunks (a power
 * of two): a small reservation is only 2 MiB aligned.
 */
static size_t align_index(size_t i, size_t align)
{
	return hpa_align_up(i + hpa_arena.base_chunk, align) -
	       hpa_arena.base_chunk;
}

/* First fit of want free chunks (aligned) in [from, end). */
static long find_run(size_t from, size_t end, size_t want, size_t align)
{
	size_t i = from;

	while (i < end) {
		size_t stop;

		i = next_free(i, end);
		i = align_index(i, align);
		if (i + want > end || i + want < i)
			return -1;
		stop = next_used(i, i + want);
		if (stop == i + want)
			return (long)i;
		i = stop + 1;
	}
	return -1;
}

long hpa_arena_take(size_t n, size_t align_chunks, bool high)
{
	size_t half = hpa_arena.nchunks / 2, align = align_chunks ? align_chunks : 1;
	long idx = -1;

	if (n == 0 || n > hpa_arena.nchunks)
		return -1;
	hpa_lock(&hpa_arena.lock);
	if (high) {
		/*
		 * Put the run in the middle of a free stretch three times its
		 * size: both it and the run before it can grow in place.
		 */
		if (n <= half / 8) {
			idx = find_run(hpa_arena.high_hint, hpa_arena.nchunks,
				       3 * n + align - 1, 1);
			if (idx >= 0)
				idx = (long)align_index((size_t)idx + n, align);
		}
		if (idx < 0)
			idx = find_run(half, hpa_arena.nchunks, n, align);
		if (idx < 0)
			idx = find_run(hpa_arena.low_hint, half, n, align);
	} else {
		idx = find_run(hpa_arena.low_hint, half, n, align);
		if (idx < 0)
			idx = find_run(half, hpa_arena.nchunks, n, align);
	}
	if (idx >= 0) {
		mark((size_t)idx, n, true);
		if (!high && (size_t)idx == hpa_arena.low_hint)
			hpa_arena.low_hint = next_free((size_t)idx + n, half);
	}
	hpa_unlock(&hpa_arena.lock);
	return idx;
}

bool hpa_arena_take_at(size_t idx, size_t n)
{
	bool ok;

	if (idx + n > hpa_arena.nchunks || idx + n < idx)
		return false;
	hpa_lock(&hpa_arena.lock);
	ok = next_used(idx, idx + n) == idx + n;
	if (ok)
		mark(idx, n, true);
	hpa_unlock(&hpa_arena.lock);
	return ok;
}

void hpa_arena_give(size_t idx, size_t n)
{
	size_t i;

	hpa_lock(&hpa_arena.lock);
	for (i = idx; i < idx + n; i++) {
		if (!chunk_used(i))
			hpa_fatal("arena: chunk %zu given back twice\n", i);
		memset(&hpa_arena.map[i], 0, sizeof(hpa_arena.map[i]));
	}
	mark(idx, n, false);
	if (idx < hpa_arena.low_hint)
		hpa_arena.low_hint = idx;
	hpa_unlock(&hpa_arena.lock);
}

/* ---- chunk state: the only writers of the chunk map ------------------ */

/*
 * Every change of a chunk's entry goes through these, so that what a kind
 * implies about the other fields (a run's tails name their head, a pool
 * chunk is no longer fresh) is decided in one place.  The caller owns the
 * chunks (it took their VA or popped them from the pool), so no lock.
 */

/* Freshly committed by a backend: claimed by the committer, reads zero. */
void hpa_chunks_commit(size_t idx, size_t n, const struct hpa_commit *out,
		       int node, bool bind)
{
	size_t i;

	for (i = idx; i < idx + n; i++) {
		struct hpa_chunk *c = &hpa_arena.map[i];

		c->kind = HPA_CHUNK_CLAIMED;
		c->backend = out->backend;
		c->page_shift = out->page_shift;
		c->fresh = 1;
		c->node = (int16_t)node;
		c->bound = bind;
	}
}

/* The pages behind the chunks were replaced (fork: private copies). */
void hpa_chunks_rebackend(size_t idx, size_t n, const struct hpa_commit *out)
{
	size_t i;

	for (i = idx; i < idx + n; i++) {
		hpa_arena.map[i].backend = out->backend;
		hpa_arena.map[i].page_shift = out->page_shift;
	}
}

/* Into the page pool: handed out before, so no longer fresh. */
void hpa_chunks_to_pool(size_t idx, size_t n)
{
	size_t i;

	for (i = idx; i < idx + n; i++) {
		hpa_arena.map[i].kind = HPA_CHUNK_POOL;
		hpa_arena.map[i].fresh = 0;
	}
}

/* Out of the page pool (or back from a failed keep) to one owner. */
void hpa_chunks_claim(size_t idx, size_t n)
{
	size_t i;

	for (i = idx; i < idx + n; i++)
		hpa_arena.map[i].kind = HPA_CHUNK_CLAIMED;
}

void hpa_chunk_to_segment(size_t idx, void *seg)
{
	hpa_arena.map[idx].aux = seg;
	hpa_arena.map[idx].kind = HPA_CHUNK_SEGMENT;
}

/* A run's head says what it is; its tails say where the head is. */
static void mark_run(size_t idx, size_t n, enum hpa_chunk_kind kind,
		     uint64_t size)
{
	size_t i;

	hpa_arena.map[idx].kind = (uint8_t)kind;
	hpa_arena.map[idx].nchunks = (uint32_t)n;
	hpa_arena.map[idx].size = size;
	for (i = idx + 1; i < idx + n; i++) {
		hpa_arena.map[i].kind = HPA_CHUNK_TAIL;
		hpa_arena.map[i].head = (uint32_t)idx;
	}
}

/* A huge block of size bytes over [idx, idx+n), or its new length. */
void hpa_chunks_mark_huge(size_t idx, size_t n, uint64_t size)
{
	mark_run(idx, n, HPA_CHUNK_HUGE, size);
}

/* A DMA buffer: device pages, one handle, described by its head. */
void hpa_chunks_mark_dma(size_t idx, size_t n, uint64_t size, uint64_t handle,
			 unsigned int page_shift, int node)
{
	struct hpa_chunk *c = &hpa_arena.map[idx];

	c->handle = handle;
	c->backend = HPA_BACKEND_DEVICE;
	c->page_shift = (uint8_t)page_shift;
	c->node = (int16_t)node;
	mark_run(idx, n, HPA_CHUNK_DMA, size);
}

/* The pages of [from, from+n) were moved to [to, to+n): so are entries. */
void hpa_chunks_move(size_t to, size_t from, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		hpa_arena.map[to + i] = hpa_arena.map[from + i];
}

/* Whether the chunk still reads zero; from now on it does not. */
bool hpa_chunk_take_fresh(size_t idx)
{
	bool fresh = hpa_arena.map[idx].fresh;

	hpa_arena.map[idx].fresh = 0;
	return fresh;
}
