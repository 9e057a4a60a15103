// SPDX-License-Identifier: MIT
/*
 * libhpalloc-preload.so: LD_PRELOAD=libhpalloc-preload.so runs an unmodified
 * program on hpalloc memory.  Every malloc-family entry point of glibc is
 * replaced.  Start-up is recursion-safe: allocations made while the library
 * initialises itself (on the initialising thread) are served from a small
 * static arena and never freed.
 */
#include <dlfcn.h>
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

/* NULL when the boot arena is full; errno is the public caller's to set. */
static void *boot_alloc(size_t size, size_t align)
{
	size_t off, start;

	if (align < HPA_ALIGN)
		align = HPA_ALIGN;
	off = atomic_load(&boot_used);
	do {
		start = hpa_align_up(off, align);
		if (start + size > BOOT_SIZE || start + size < start)
			return NULL;
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

/*
 * malloc past its fast path, with start-up in front: out of line, so that
 * the fast path makes only jumps and needs no stack frame (a thread with a
 * heap of its own is past start-up).
 */
static HPA_NOINLINE void *malloc_slow(size_t size)
{
	void *p;

	if (HPA_UNLIKELY(starting())) {
		p = boot_alloc(size, HPA_ALIGN);
		return HPA_LIKELY(p) ? p : hpa_nomem();
	}
	return hpa_malloc_slow(size);
}

HPA_EXPORT void *malloc(size_t size)
{
	return hpa_alloc_fast(size, hpa_malloc_refill, malloc_slow);
}

static inline __attribute__((always_inline)) void preload_free(void *p)
{
	/* Boot blocks are outside the reservation: not on the fast path. */
	if (HPA_LIKELY(hpa_free_small(p)))
		return;
	if (!p || HPA_UNLIKELY(is_boot(p)))
		return;
	hpa_free_other(p);
}

HPA_EXPORT void free(void *p)
{
	preload_free(p);
}

HPA_EXPORT void *calloc(size_t n, size_t size)
{
	if (HPA_UNLIKELY(starting())) {
		size_t total;
		void *p = NULL;

		if (!__builtin_mul_overflow(n, size, &total))
			p = boot_alloc(total, HPA_ALIGN);	/* static: zero */
		if (!p)
			errno = ENOMEM;
		return p;
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
	if (HPA_UNLIKELY(starting())) {
		q = boot_alloc(size, HPA_ALIGN);
		if (!q)
			errno = ENOMEM;
		return q;
	}
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
	void *p;

	if (HPA_UNLIKELY(starting())) {
		if (!align || align & (align - 1) || align % sizeof(void *))
			return EINVAL;
		p = boot_alloc(size, align);
		if (!p)
			return ENOMEM;	/* errno and *memptr untouched */
		*memptr = p;
		return 0;
	}
	return hpa_posix_memalign(memptr, align, size);
}

HPA_EXPORT void *aligned_alloc(size_t align, size_t size)
{
	void *p;

	if (HPA_UNLIKELY(starting())) {
		p = boot_alloc(size, align);
		if (!p)
			errno = ENOMEM;
		return p;
	}
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

/* ---- C23 sized frees and the C++ operators ---------------------------- */

/*
 * C23's free_sized and free_aligned_sized (glibc 2.36 does not declare
 * them; programs built later may call them) and every form of C++'s
 * operator new and delete: exported here so that C++ programs reach the
 * fast paths directly instead of through libstdc++'s wrappers around
 * malloc and free.  The size and alignment a caller passes to a delete are
 * not needed: the block's page knows its size.
 */
HPA_EXPORT void free_sized(void *p, size_t size)
{
	(void)size;
	preload_free(p);
}

HPA_EXPORT void free_aligned_sized(void *p, size_t align, size_t size)
{
	(void)align;
	(void)size;
	preload_free(p);
}

/* ---- the rest of glibc's malloc surface --------------------------------
 *
 * glibc's own names for its allocator (__libc_malloc & co., called by some
 * programs and libraries that wrap malloc) are the same functions here, so
 * a block from either is freed by either.  mallinfo2/mallinfo, malloc_trim,
 * malloc_stats, mallopt and malloc_info report on and act upon hpalloc's
 * heap, not glibc's unused one.
 */
#include <malloc.h>
#include <stdio.h>

/* Another name of fn: the same code, with fn's attributes. */
#define LIBC_ALIAS(fn)	__attribute__((alias(#fn), copy(fn)))

HPA_EXPORT void *__libc_malloc(size_t size) LIBC_ALIAS(malloc);
HPA_EXPORT void __libc_free(void *p) LIBC_ALIAS(free);
HPA_EXPORT void *__libc_calloc(size_t n, size_t size) LIBC_ALIAS(calloc);
HPA_EXPORT void *__libc_realloc(void *p, size_t size) LIBC_ALIAS(realloc);
HPA_EXPORT void *__libc_memalign(size_t align, size_t size)
	LIBC_ALIAS(memalign);
HPA_EXPORT void *__libc_valloc(size_t size) LIBC_ALIAS(valloc);
HPA_EXPORT void *__libc_pvalloc(size_t size) LIBC_ALIAS(pvalloc);

/*
 * glibc's fields, hpalloc's meaning: arena = bytes committed, ordblks =
 * segments, hblkhd = bytes in big blocks (runs of whole chunks), uordblks =
 * bytes handed out, fordblks = committed but not handed out, keepcost =
 * retained (what malloc_trim would give back).
 */
HPA_EXPORT struct mallinfo2 mallinfo2(void)
{
	struct hpa_stats st = { .size = sizeof(st) };
	struct mallinfo2 mi;

	memset(&mi, 0, sizeof(mi));
	if (hpa_stats(&st))
		return mi;
	mi.arena = st.bytes_mapped;
	mi.ordblks = st.segments;
	mi.hblkhd = atomic_load(&hpa_gstats.huge_in_use);
	mi.uordblks = st.bytes_in_use;
	mi.fordblks = st.bytes_mapped > st.bytes_in_use ?
		      st.bytes_mapped - st.bytes_in_use : 0;
	mi.keepcost = st.bytes_retained;
	return mi;
}

static int clamp_int(size_t v)
{
	return v > INT32_MAX ? INT32_MAX : (int)v;
}

/* The old int-sized interface (deprecated in glibc): clamped, not wrapped. */
HPA_EXPORT struct mallinfo mallinfo(void)
{
	struct mallinfo2 m2 = mallinfo2();
	struct mallinfo mi;

	memset(&mi, 0, sizeof(mi));
	mi.arena = clamp_int(m2.arena);
	mi.ordblks = clamp_int(m2.ordblks);
	mi.hblkhd = clamp_int(m2.hblkhd);
	mi.uordblks = clamp_int(m2.uordblks);
	mi.fordblks = clamp_int(m2.fordblks);
	mi.keepcost = clamp_int(m2.keepcost);
	return mi;
}

/* Retained memory back to the OS; 1 if any was released, as glibc. */
HPA_EXPORT int malloc_trim(size_t pad)
{
	(void)pad;	/* nothing is kept at a heap top to pad */
	hpa_ensure_init();
	return hpa_pool_trim() > 0;
}

HPA_EXPORT void malloc_stats(void)
{
	hpa_ensure_init();
	hpa_stats_print(STDERR_FILENO);
}

/*
 * M_TRIM_THRESHOLD is what HPALLOC_RETAIN is: how much free memory is kept
 * before it goes back to the OS.  The others name glibc mechanisms hpalloc
 * does not have (fastbins, arenas, the heap top, mmap thresholds: big
 * blocks are always whole chunks; perturbing): refused with glibc's error
 * return, 0.
 */
HPA_EXPORT int mallopt(int param, int value)
{
	hpa_ensure_init();
	if (param == M_TRIM_THRESHOLD && value >= 0) {
		hpa_option_set_int(HPA_OPT_RETAIN, value);
		return 1;
	}
	return 0;
}

HPA_EXPORT int malloc_info(int options, FILE *fp)
{
	int err;

	if (options != 0 || !fp) {
		errno = EINVAL;
		return -1;
	}
	hpa_ensure_init();
	fflush(fp);
	err = hpa_stats_print_xml(fileno(fp));
	if (err) {
		errno = -err;
		return -1;
	}
	return 0;
}

/*
 * Out of memory in a throwing (or nothrow) operator new: the C++ rules
 * (call the new_handler until it gives up, then throw std::bad_alloc or
 * return NULL) need the C++ runtime, so the same operator of the next
 * library, libstdc++'s, takes over; it allocates through malloc and
 * aligned_alloc, which are ours, so the memory still comes from hpalloc.
 */
typedef void *(*new_fn)(size_t, ...);

static _Noreturn void no_cxx_runtime(const char *name)
{
	hpa_fatal("%s: out of memory and no C++ runtime to report it\n", name);
}

static HPA_NOINLINE void *new_retry(const char *name, size_t size,
				    size_t align, const void *nothrow)
{
	new_fn next = (new_fn)dlsym(RTLD_NEXT, name);

	if (!next)
		no_cxx_runtime(name);
	if (align && nothrow)
		return next(size, align, nothrow);
	if (align)
		return next(size, align);
	if (nothrow)
		return next(size, nothrow);
	return next(size);
}

static inline __attribute__((always_inline)) void *cxx_new(size_t size)
{
	struct hpa_heap *h = hpa_tls_heap;

	if (HPA_LIKELY((uintptr_t)h > 1 && size <= HPA_SMALL_TABLE_MAX))
		return hpa_heap_alloc_upto_1k(h, size, hpa_heap_alloc_slow);
	return malloc(size);
}

#define NEW_OPERATOR(sym)						\
HPA_EXPORT void *sym(size_t size)					\
{									\
	void *p = cxx_new(size);					\
									\
	return HPA_LIKELY(p) ? p : new_retry(#sym, size, 0, NULL);	\
}

#define NEW_NOTHROW_OPERATOR(sym)					\
HPA_EXPORT void *sym(size_t size, const void *nothrow)			\
{									\
	void *p = cxx_new(size);					\
									\
	return HPA_LIKELY(p) ? p : new_retry(#sym, size, 0, nothrow);	\
}

#define NEW_ALIGNED_OPERATOR(sym)					\
HPA_EXPORT void *sym(size_t size, size_t align)				\
{									\
	void *p = aligned_alloc(align, size);				\
									\
	return HPA_LIKELY(p) ? p : new_retry(#sym, size, align, NULL);	\
}

#define NEW_ALIGNED_NOTHROW_OPERATOR(sym)				\
HPA_EXPORT void *sym(size_t size, size_t align, const void *nothrow)	\
{									\
	void *p = aligned_alloc(align, size);				\
									\
	return HPA_LIKELY(p) ? p : new_retry(#sym, size, align, nothrow);\
}

/* operator new, new[]; (std::nothrow_t); (std::align_val_t [, nothrow]) */
NEW_OPERATOR(_Znwm)
NEW_OPERATOR(_Znam)
NEW_NOTHROW_OPERATOR(_ZnwmRKSt9nothrow_t)
NEW_NOTHROW_OPERATOR(_ZnamRKSt9nothrow_t)
NEW_ALIGNED_OPERATOR(_ZnwmSt11align_val_t)
NEW_ALIGNED_OPERATOR(_ZnamSt11align_val_t)
NEW_ALIGNED_NOTHROW_OPERATOR(_ZnwmSt11align_val_tRKSt9nothrow_t)
NEW_ALIGNED_NOTHROW_OPERATOR(_ZnamSt11align_val_tRKSt9nothrow_t)

#define DELETE_OPERATOR(sym, ...)					\
HPA_EXPORT void sym(void *p, ##__VA_ARGS__)				\
{									\
	preload_free(p);						\
}

/*
 * operator delete, delete[]: plain, sized (size_t), aligned
 * (std::align_val_t), sized and aligned are other names of free,
 * free_sized and free_aligned_sized, whose types they have (a delete of
 * its own would be a jump to the same code, one instruction more per
 * delete); nothrow and aligned nothrow have their own code.
 */
HPA_EXPORT void _ZdlPv(void *p) LIBC_ALIAS(free);
HPA_EXPORT void _ZdaPv(void *p) LIBC_ALIAS(free);
HPA_EXPORT void _ZdlPvm(void *p, size_t size) LIBC_ALIAS(free_sized);
HPA_EXPORT void _ZdaPvm(void *p, size_t size) LIBC_ALIAS(free_sized);
HPA_EXPORT void _ZdlPvSt11align_val_t(void *p, size_t al)
	LIBC_ALIAS(free_sized);
HPA_EXPORT void _ZdaPvSt11align_val_t(void *p, size_t al)
	LIBC_ALIAS(free_sized);
HPA_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t size, size_t al)
	LIBC_ALIAS(free_aligned_sized);
HPA_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t size, size_t al)
	LIBC_ALIAS(free_aligned_sized);
DELETE_OPERATOR(_ZdlPvRKSt9nothrow_t, const void *nt __attribute__((unused)))
DELETE_OPERATOR(_ZdaPvRKSt9nothrow_t, const void *nt __attribute__((unused)))
DELETE_OPERATOR(_ZdlPvSt11align_val_tRKSt9nothrow_t,
		size_t al __attribute__((unused)),
		const void *nt __attribute__((unused)))
DELETE_OPERATOR(_ZdaPvSt11align_val_tRKSt9nothrow_t,
		size_t al __attribute__((unused)),
		const void *nt __attribute__((unused)))
