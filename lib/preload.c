// SPDX-License-Identifier: MIT
/*
 * libhpalloc-preload.so: LD_PRELOAD=libhpalloc-preload.so runs an unmodified
 * program on hpalloc memory.  Every malloc-family entry point of glibc is
 * replaced.  Start-up is recursion-safe: allocations made while the library
 * initialises itself (on the initialising thread) are served from a small
 * static arena and never freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define BOOT_SIZE	(256 * 1024)

static char boot_arena[BOOT_SIZE] __attribute__((aligned(64)));
static _Atomic size_t boot_used;
static __thread int in_init __attribute__((tls_model("initial-exec")));

static bool is_boot(const void *p)
{
	return (const char *)p >= boot_arena &&
	       (const char *)p < boot_arena + BOOT_SIZE;
}

static void *boot_alloc(size_t size, size_t align)
{
	size_t off, start;

	if (align < HPA_ALIGN)
		align = HPA_ALIGN;
	off = atomic_load(&boot_used);
	do {
		start = hpa_align_up(off, align);
		if (start + size > BOOT_SIZE || start + size < start) {
			errno = ENOMEM;
			return NULL;
		}
	} while (!atomic_compare_exchange_weak(&boot_used, &off,
					       start + size));
	return boot_arena + start;
}

/* True while this thread runs the library's start-up. */
static bool starting(void)
{
	if (HPA_LIKELY(atomic_load_explicit(&hpa_initialized,
					    memory_order_acquire)))
		return false;
	if (in_init)
		return true;
	in_init = 1;
	hpa_init_slow();
	in_init = 0;
	return false;
}

HPA_EXPORT void *malloc(size_t size)
{
	struct hpa_heap *h = hpa_tls_heap;

	/* A thread with a heap of its own is past start-up. */
	if (HPA_LIKELY((uintptr_t)h > 1 && size <= HPA_SMALL_MAX))
		return hpa_heap_alloc_unlocked(h, hpa_size_class(size));
	if (HPA_UNLIKELY(starting()))
		return boot_alloc(size, HPA_ALIGN);
	return hpa_malloc_slow(size);
}

HPA_EXPORT void free(void *p)
{
	/* Boot blocks are outside the reservation: not on the fast path. */
	if (HPA_LIKELY(hpa_free_small(p)))
		return;
	if (HPA_UNLIKELY(is_boot(p)))
		return;
	hpa_free_other(p);
}

HPA_EXPORT void *calloc(size_t n, size_t size)
{
	if (HPA_UNLIKELY(starting())) {
		size_t total;

		if (__builtin_mul_overflow(n, size, &total)) {
			errno = ENOMEM;
			return NULL;
		}
		return boot_alloc(total, HPA_ALIGN);	/* static: zero */
	}
	return hpa_calloc(n, size);
}

HPA_EXPORT void *realloc(void *p, size_t size)
{
	void *q;

	if (HPA_UNLIKELY(is_boot(p))) {
		q = malloc(size);
		if (q) {
			size_t room = (size_t)(boot_arena + BOOT_SIZE -
					       (char *)p);
			memcpy(q, p, size < room ? size : room);
		}
		return q;
	}
	if (HPA_UNLIKELY(starting()))
		return boot_alloc(size, HPA_ALIGN);
	return hpa_realloc(p, size);
}

HPA_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, total);
}

static size_t round_pow2(size_t x)
{
	return x <= 1 ? 1 : (size_t)1 << (64 - __builtin_clzl(x - 1));
}

HPA_EXPORT int posix_memalign(void **memptr, size_t align, size_t size)
{
	if (HPA_UNLIKELY(starting())) {
		if (!align || align & (align - 1) || align % sizeof(void *))
			return EINVAL;
		*memptr = boot_alloc(size, align);
		return *memptr ? 0 : ENOMEM;
	}
	return hpa_posix_memalign(memptr, align, size);
}

HPA_EXPORT void *aligned_alloc(size_t align, size_t size)
{
	if (HPA_UNLIKELY(starting()))
		return boot_alloc(size, align);
	return hpa_aligned_alloc(align, size);
}

/* glibc's memalign rounds a non-power-of-two alignment up. */
HPA_EXPORT void *memalign(size_t align, size_t size)
{
	return aligned_alloc(round_pow2(align), size);
}

HPA_EXPORT void *valloc(size_t size)
{
	return aligned_alloc((size_t)sysconf(_SC_PAGESIZE), size);
}

HPA_EXPORT void *pvalloc(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (size > SIZE_MAX - page) {
		errno = ENOMEM;
		return NULL;
	}
	return aligned_alloc(page, hpa_align_up(size ? size : 1, page));
}

HPA_EXPORT size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	if (is_boot(p))
		return 0;
	return hpa_usable_size(p);
}

/* C23; glibc 2.36 does not declare them, programs built later may call. */
HPA_EXPORT void free_sized(void *p, size_t size)
{
	(void)size;
	free(p);
}

HPA_EXPORT void free_aligned_sized(void *p, size_t align, size_t size)
{
	(void)align;
	(void)size;
	free(p);
}
