// SPDX-License-Identifier: MIT
/*
 * The public malloc-style API and start-up.  Small blocks (up to 1 MiB) come
 * from the calling thread's heap; larger ones are runs of whole chunks
 * (huge.c).  free() finds everything from the pointer: the chunk map entry
 * of its 2 MiB chunk says segment, huge run or neither.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "fork.h"
#include "internal.h"

_Atomic int hpa_initialized;
enum hpa_backend hpa_backend_chosen = HPA_BACKEND_4K;
static struct hpa_lock init_lock = HPA_LOCK_INIT;

/*
 * fork() while another thread allocates: every lock is taken before and
 * released after, in parent and child, so the child never inherits a lock
 * held by a thread it does not have.  The init lock comes first: a fork
 * while another thread initialises the library waits for it to finish.
 * Registered once, by a constructor or (when a constructor that runs
 * earlier allocates) at the start of initialisation, never under
 * init_lock: glibc holds its atfork lock while it runs these, so a
 * registration made under init_lock could wait for a fork that waits for
 * init_lock.
 */
static void fork_prepare(void)
{
	hpa_lock(&init_lock);
	if (!atomic_load_explicit(&hpa_initialized, memory_order_relaxed))
		return;
	hpa_heaps_lock_all();
	hpa_pool_lock_all();
	hpa_lock(&hpa_arena.lock);
	hpa_fork_prepare_dev();
}

/* After fork, in parent or child: fork.c's part, then every lock. */
static void fork_release(void (*dev)(void))
{
	if (atomic_load_explicit(&hpa_initialized, memory_order_relaxed)) {
		dev();
		hpa_unlock(&hpa_arena.lock);
		hpa_pool_unlock_all();
		hpa_heaps_unlock_all();
	}
	hpa_unlock(&init_lock);
}

static void fork_parent(void)
{
	fork_release(hpa_fork_parent_dev);
}

static void fork_child(void)
{
	fork_release(hpa_fork_child_dev);
}

static _Atomic int fork_registered;	/* 0 no, 1 being registered, 2 yes */
static __thread bool fork_registering
	__attribute__((tls_model("initial-exec")));

static void fork_handlers_register(void)
{
	int expected = 0;

	if (atomic_compare_exchange_strong(&fork_registered, &expected, 1)) {
		/* pthread_atfork may malloc: that comes back here */
		fork_registering = true;
		pthread_atfork(fork_prepare, fork_parent, fork_child);
		fork_registering = false;
		atomic_store(&fork_registered, 2);
		return;
	}
	while (!fork_registering && atomic_load(&fork_registered) != 2)
		sched_yield();
}

__attribute__((constructor)) static void fork_handlers(void)
{
	fork_handlers_register();
}

void hpa_init_slow(void)
{
	int err;

	fork_handlers_register();
	hpa_lock(&init_lock);
	if (atomic_load(&hpa_initialized)) {
		hpa_unlock(&init_lock);
		return;
	}
	hpa_options_init();
	hpa_sizeclass_init();
	hpa_backend_chosen = hpa_prim->init(hpa_option_str(HPA_OPT_BACKEND));
	err = hpa_arena_init((size_t)hpa_option_int(HPA_OPT_RESERVE));
	if (err)
		hpa_fatal("cannot reserve address space (HPALLOC_RESERVE=%s)\n",
			  hpa_option_str(HPA_OPT_RESERVE));
	hpa_debug("reserved %zu MiB at %p\n", hpa_arena.size >> 20,
		  (void *)hpa_arena.base);
	hpa_heaps_init();
	hpa_stats_init();
	atomic_store_explicit(&hpa_initialized, 1, memory_order_release);
	hpa_unlock(&init_lock);
}

void hpa_bad_pointer(const char *fn, const void *p, const char *why)
{
	hpa_fatal("%s(%p): %s\n", fn, p, why);
}

void *hpa_malloc_slow(size_t size)
{
	if (size <= HPA_SMALL_MAX)
		return hpa_alloc_small(size);
	hpa_ensure_init();
	return hpa_huge_alloc(size, 0, -1);
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

	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if (total > HPA_SMALL_MAX) {
		hpa_ensure_init();
		p = hpa_huge_alloc(total, 0, -1);
		if (!p)
			return NULL;
		/* Freshly mapped memory reads zero; do not fault it all in. */
		if (!hpa_chunk_take_fresh(hpa_chunk_index(p)))
			memset(p, 0, total);
		return p;
	}
	p = hpa_alloc_small(total);
	if (p)
		memset(p, 0, total);
	return p;
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
		return hpa_malloc(size);
	hpa_ensure_init();
	if (align < HPA_ALIGN)
		align = HPA_ALIGN;
	c = aligned_class(size, align);
	if (c < 0)
		return hpa_huge_alloc(size, align, node);
	h = node < 0 ? hpa_heap_get() : hpa_heap_node(node);
	if (!h) {
		errno = ENOMEM;
		return NULL;
	}
	return hpa_heap_alloc(h, (unsigned int)c);
}

HPA_EXPORT void *hpa_aligned_alloc(size_t align, size_t size)
{
	if (!is_pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return hpa_alloc_aligned_node(size, align, -1);
}

HPA_EXPORT int hpa_posix_memalign(void **memptr, size_t align, size_t size)
{
	int saved = errno;
	void *p;

	if (!memptr || !is_pow2(align) || align % sizeof(void *))
		return EINVAL;
	p = hpa_alloc_aligned_node(size, align, -1);
	if (!p) {
		errno = saved;
		return ENOMEM;
	}
	*memptr = p;
	return 0;
}

HPA_EXPORT void *hpa_malloc_node(size_t size, int node)
{
	hpa_ensure_init();
	if (node == -1)
		return hpa_malloc(size);
	if (node < 0 || node >= HPA_MAX_NODES || !hpa_prim->node_online(node)) {
		errno = EINVAL;
		return NULL;
	}
	return hpa_alloc_aligned_node(size, HPA_ALIGN, node);
}

HPA_EXPORT void *hpa_realloc(void *p, size_t size)
{
	const struct hpa_chunk *c;
	size_t idx, old;
	void *q;

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
	if (c->kind == HPA_CHUNK_HUGE && size > HPA_SMALL_MAX)
		return hpa_huge_realloc(idx, p, size);
	old = hpa_usable_size(p);
	/*
	 * Fits, and not shrinking to less than half: keep the block.  A big
	 * block shrunk to a small size moves to a small block (a copy of at
	 * most HPA_SMALL_MAX bytes) instead of holding its chunks.
	 */
	if (size <= old && size >= old / 2)
		return p;
	q = hpa_malloc(size);
	if (!q)
		return NULL;
	memcpy(q, p, size < old ? size : old);
	hpa_free(p);
	return q;
}
