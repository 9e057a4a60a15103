// SPDX-License-Identifier: MIT
/*
 * The public malloc-style API.  Small blocks (up to 1 MiB) come
 * from the calling thread's heap; larger ones are runs of whole chunks
 * (huge.c).  free() finds everything from the pointer: the chunk map entry
 * of its 2 MiB chunk says segment, huge run or neither.
 *
 * errno is set here (and in the other exported functions), once, on the
 * way out: what these functions call returns NULL or -errno and leaves it
 * alone.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

void *hpa_alloc_any(size_t size)
{
	if (size <= HPA_SMALL_MAX)
		return hpa_alloc_small(size);
	hpa_ensure_init();
	return hpa_huge_alloc(size, 0, -1);
}

void *hpa_nomem(void)
{
	errno = ENOMEM;
	return NULL;
}

/*
 * The exported malloc's exits from its inlined fast path (internal.h).
 * The refill repeats hpa_heap_alloc_slow rather than call it: one call
 * fewer on the way to a new word, which the small shapes take often.
 */
HPA_NOINLINE void *hpa_malloc_refill(struct hpa_heap *h, unsigned int cls)
{
	void *p = hpa_heap_next_word(h, cls);

	if (HPA_LIKELY(p))
		return p;
	p = hpa_heap_refill(h, cls);
	return HPA_LIKELY(p) ? p : hpa_nomem();
}

HPA_NOINLINE void *hpa_malloc_slow(size_t size)
{
	void *p = hpa_alloc_any(size);

	return HPA_LIKELY(p) ? p : hpa_nomem();
}

void hpa_free_other(void *p)
{
	const struct hpa_chunk *c;
	size_t idx;

	if (!p)
		return;
	c = hpa_chunk_of(p, &idx);
	if (!c)
		hpa_bad_pointer("hpa_free", p,
				"pointer was not allocated by hpalloc");
	if (c->kind == HPA_CHUNK_HUGE) {
		hpa_huge_free(idx, p);
		return;
	}
	if (c->kind == HPA_CHUNK_DMA)
		hpa_bad_pointer("hpa_free", p, "DMA buffer: use hpa_dma_free");
	hpa_bad_pointer("hpa_free", p, "not an allocated block (double free?)");
}

HPA_EXPORT void *hpa_malloc(size_t size)
{
	return hpa_malloc_inline(size);
}

HPA_EXPORT void hpa_free(void *p)
{
	hpa_free_inline(p);
}

HPA_EXPORT size_t hpa_usable_size(const void *p)
{
	struct hpa_page *pg;
	const struct hpa_chunk *c;
	size_t idx;

	if (!p)
		return 0;
	c = hpa_chunk_of(p, &idx);
	if (!c)
		hpa_bad_pointer("hpa_usable_size", p,
				"pointer was not allocated by hpalloc");
	if (c->kind == HPA_CHUNK_SEGMENT) {
		pg = hpa_segment_page_of(hpa_segment_of(p), p);
		if (!pg || hpa_page_block_index(pg, p) < 0)
			hpa_bad_pointer("hpa_usable_size", p, "not a block");
		return pg->block_size;
	}
	if (c->kind == HPA_CHUNK_HUGE && p == hpa_chunk_addr(idx))
		return hpa_huge_usable(idx, p);
	hpa_bad_pointer("hpa_usable_size", p, "not an allocated block");
}

HPA_EXPORT void *hpa_calloc(size_t nmemb, size_t size)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(nmemb, size, &total))
		goto nomem;
	if (total > HPA_SMALL_MAX) {
		hpa_ensure_init();
		p = hpa_huge_alloc(total, 0, -1);
		if (!p)
			goto nomem;
		/* Freshly mapped memory reads zero; do not fault it all in. */
		if (!hpa_chunk_take_fresh(hpa_chunk_index(p)))
			memset(p, 0, total);
		return p;
	}
	p = hpa_alloc_small(total);
	if (!p)
		goto nomem;
	memset(p, 0, total);
	return p;
nomem:
	errno = ENOMEM;
	return NULL;
}

static bool is_pow2(size_t x)
{
	return x && !(x & (x - 1));
}

/* Smallest class holding size whose blocks all start align-aligned. */
static int aligned_class(size_t size, size_t align)
{
	unsigned int c;

	if (align > HPA_UNIT_SIZE || size > HPA_SMALL_MAX)
		return -1;
	for (c = hpa_size_class(size); c < HPA_NCLASSES; c++)
		if (hpa_class_size(c) % align == 0)
			return (int)c;
	return -1;
}

void *hpa_alloc_aligned_node(size_t size, size_t align, int node)
{
	struct hpa_heap *h;
	int c;

	if (align <= HPA_ALIGN && node < 0)
		return hpa_alloc_inline(size);
	hpa_ensure_init();
	if (align < HPA_ALIGN)
		align = HPA_ALIGN;
	c = aligned_class(size, align);
	if (c < 0)
		return hpa_huge_alloc(size, align, node);
	h = node < 0 ? hpa_heap_get() : hpa_heap_node(node);
	if (!h)
		return NULL;
	return hpa_heap_alloc(h, (unsigned int)c);
}

HPA_EXPORT void *hpa_aligned_alloc(size_t align, size_t size)
{
	void *p;

	if (!is_pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	p = hpa_alloc_aligned_node(size, align, -1);
	if (!p)
		errno = ENOMEM;
	return p;
}

HPA_EXPORT int hpa_posix_memalign(void **memptr, size_t align, size_t size)
{
	int saved = errno;
	void *p;

	if (!memptr || !is_pow2(align) || align % sizeof(void *))
		return EINVAL;
	p = hpa_alloc_aligned_node(size, align, -1);
	if (!p) {
		/*
		 * The code is the return value; errno stays the caller's even
		 * where a backend's failed mmap or ioctl on the way wrote it.
		 */
		errno = saved;
		return ENOMEM;
	}
	*memptr = p;
	return 0;
}

HPA_EXPORT void *hpa_malloc_node(size_t size, int node)
{
	void *p;

	hpa_ensure_init();
	if (node != -1 && (node < 0 || node >= HPA_MAX_NODES ||
			   !hpa_prim->node_online(node))) {
		errno = EINVAL;
		return NULL;
	}
	p = node == -1 ? hpa_alloc_inline(size) :
	    hpa_alloc_aligned_node(size, HPA_ALIGN, node);
	if (!p)
		errno = ENOMEM;
	return p;
}

HPA_EXPORT void *hpa_realloc(void *p, size_t size)
{
	const struct hpa_chunk *c;
	size_t idx, old;
	void *q;
	int err;

	if (!p)
		return hpa_malloc(size);
	if (size == 0) {
		hpa_free(p);
		return NULL;
	}
	c = hpa_chunk_of(p, &idx);
	if (!c)
		hpa_bad_pointer("hpa_realloc", p,
				"pointer was not allocated by hpalloc");
	if (c->kind == HPA_CHUNK_HUGE && size > HPA_SMALL_MAX) {
		err = hpa_huge_realloc(idx, p, size, &q);
		if (err) {
			errno = -err;
			return NULL;
		}
		return q;
	}
	old = hpa_usable_size(p);
	/*
	 * Fits, and not shrinking to less than half: keep the block.  A big
	 * block shrunk to a small size moves to a small block (a copy of at
	 * most HPA_SMALL_MAX bytes) instead of holding its chunks.
	 */
	if (size <= old && size >= old / 2)
		return p;
	q = hpa_alloc_inline(size);
	if (!q) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(q, p, size < old ? size : old);
	hpa_free(p);
	return q;
}
