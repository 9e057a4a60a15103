// SPDX-License-Identifier: MIT
/*
 * Internal interfaces of libhpalloc-user.  Nothing here is exported: the
 * library is built with -fvisibility=hidden and only HPA_EXPORT names leave
 * the shared object (checked against libhpalloc-user.sym by the build).
 *
 * Layers, bottom up (one file each):
 *   lock.c      adaptive spin-then-futex lock
 *   options.c   the option table, HPALLOC_* environment variables, logging
 *               and the fatal paths (hpa_fatal, hpa_bad_pointer)
 *   prim.c      with prim-device.c the only code that opens, ioctls or
 *               mmaps: the host backends (hugetlb, thp, 4k) and probes
 *               (prim-host.h, for os.c and prim-device.c only)
 *   prim-device.c  the device backend (prim-device.h, for os.c only):
 *               chunk table, handles, map, move, physical addresses, DMA
 *               ioctls, the device's part of fork
 *   os.c        above both: backend choice, fallback policy, per-backend
 *               failure counts, the ops table (prim.h); tests put a fake
 *               in its place
 *   arena.c     the VA reservation, 2 MiB chunks, the chunk map and its
 *               transitions (the only writer of hpa_arena.map)
 *   pool.c      free committed chunks per node (4 KiB and 2 MiB lists,
 *               a run cache), retention (the only writer of `retained`)
 *   sizeclass.c size classes
 *   segment.c   a 2 MiB segment cut into pages of one size class each
 *   heap.c      thread heaps, remote frees, hand-over at thread exit
 *   huge.c      blocks of whole chunks, growth without copy
 *   dma.c       contiguous buffers and physical addresses
 *   fork.c      fork() on device and hugetlb memory (fork.h)
 *   stats.c     hpa_stats
 *   init.c      start-up (hpa_init_slow) and the atfork handlers
 *   alloc.c     the public malloc-style API
 *   preload.c   the LD_PRELOAD shim (libhpalloc-preload.so only)
 *
 * errno is the exported functions' (HPA_EXPORT): everything here returns
 * 0 or -errno, or NULL for "no memory", and leaves errno alone; the
 * exported function that fails sets it once (see alloc.c below for how
 * the malloc fast path does that without a check of its own).
 */
#ifndef HPA_INTERNAL_H
#define HPA_INTERNAL_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hpalloc.h"

#define HPA_EXPORT	__attribute__((visibility("default")))
#define HPA_LIKELY(x)	__builtin_expect(!!(x), 1)
#define HPA_UNLIKELY(x)	__builtin_expect(!!(x), 0)
#define HPA_NOINLINE	__attribute__((noinline))

#define HPA_KiB		(1UL << 10)
#define HPA_MiB		(1UL << 20)
#define HPA_GiB		(1UL << 30)

#define HPA_CHUNK_SHIFT	21			/* one segment / 2 MiB page */
#define HPA_CHUNK_SIZE	(1UL << HPA_CHUNK_SHIFT)
#define HPA_CHUNK_MASK	(HPA_CHUNK_SIZE - 1)
#define HPA_1G_CHUNKS	(HPA_GiB / HPA_CHUNK_SIZE)

#define HPA_UNIT_SHIFT	16			/* 64 KiB page unit */
#define HPA_UNIT_SIZE	(1UL << HPA_UNIT_SHIFT)
#define HPA_UNITS	(HPA_CHUNK_SIZE / HPA_UNIT_SIZE)	/* 32 */

#define HPA_ALIGN	16			/* malloc's alignment */
#define HPA_MAX_BLOCKS	(HPA_UNIT_SIZE / HPA_ALIGN)	/* per page */
#define HPA_BITMAP_WORDS (HPA_MAX_BLOCKS / 64)
/*
 * At least 4 blocks a page for classes up to 64 KiB (runs of up to
 * 256 KiB): a page of one 64 KiB block was carved for nearly every malloc
 * of its class and released at nearly every free (rptest: 63,900 pages
 * carved for 4 M malloc/free pairs, 4,700 now; 8 blocks a page carved
 * 2,500 but took a third more peak RSS in alloc/free bursts).
 */
#define HPA_PAGE_MIN_BLOCKS		4
#define HPA_PAGE_MIN_BLOCKS_UNITS	4

#define HPA_MAX_NODES	64

static inline uintptr_t hpa_align_up(uintptr_t x, uintptr_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/*
 * Fields one thread writes and others read (counters that hpa_stats sums,
 * page frontiers): relaxed atomics.  For a counter a relaxed
 * load and store of the sum is what the owner needs, but compilers do not
 * fuse atomic accesses, so on x86-64 it is one read-modify-write
 * instruction without a lock prefix instead of a load, an add and a store
 * (readers see the old or the new value, as with the store), and a
 * relaxed load is a plain one that can be an operand of a compare.  Under
 * TSan the atomic accesses, which it can see.
 */
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define HPA_OWNER_RMW	1
#endif

/* ---- lock.c ---------------------------------------------------------- */

struct hpa_lock {
	_Atomic uint32_t state;		/* 0 free, 1 held, 2 held + waiters */
};

#define HPA_LOCK_INIT	{ 0 }

void hpa_lock_slow(struct hpa_lock *l);
void hpa_unlock_slow(struct hpa_lock *l);

static inline void hpa_lock(struct hpa_lock *l)
{
	uint32_t expected = 0;

	if (HPA_LIKELY(atomic_compare_exchange_strong_explicit(&l->state,
			&expected, 1, memory_order_acquire,
			memory_order_relaxed)))
		return;
	hpa_lock_slow(l);
}

static inline void hpa_unlock(struct hpa_lock *l)
{
	if (HPA_LIKELY(atomic_exchange_explicit(&l->state, 0,
				memory_order_release) == 1))
		return;
	hpa_unlock_slow(l);
}

/* ---- options.c ------------------------------------------------------- */

enum hpa_option {
	HPA_OPT_BACKEND,	/* "auto", "device", "hugetlb", "thp", "4k" */
	HPA_OPT_DEBUG,		/* print decisions on stderr */
	HPA_OPT_RESERVE,	/* bytes of virtual address space */
	HPA_OPT_RETAIN,		/* free committed bytes kept per process */
	HPA_OPT_PAGE_1G,	/* use 1 GiB pages for runs >= 1 GiB */
	HPA_OPT_STATS,		/* print a summary at exit */
	HPA_OPT_SMALL_START,	/* a heap's first segment bytes on 4 KiB pages */
	HPA_OPT_MAX
};

struct hpa_option_desc {
	const char *name;	/* env var is HPALLOC_<name> */
	enum { HPA_OPT_STR, HPA_OPT_BOOL, HPA_OPT_SIZE } type;
	const char *def;	/* default, as it would be written in env */
	const char *doc;
	long long min, max;	/* HPA_OPT_SIZE: accepted range */
};

extern const struct hpa_option_desc hpa_option_table[HPA_OPT_MAX];

void hpa_options_init(void);
long long hpa_option_int(enum hpa_option o);
/* Change a numeric option at run time (mallopt). */
void hpa_option_set_int(enum hpa_option o, long long v);
/* Whether the environment or mallopt gave the option a value. */
bool hpa_option_given(enum hpa_option o);
const char *hpa_option_str(enum hpa_option o);
/* Parse "123", "4k", "2M", "1G", "1T"; -1 when invalid. */
long long hpa_parse_size(const char *s);

void hpa_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hpa_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void hpa_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* A pointer the library did not hand out (or no longer owns): abort. */
_Noreturn void hpa_bad_pointer(const char *fn, const void *p,
			       const char *why);

/* ---- os.c, prim.c, prim-device.c: the primitive layer (prim.h) ------ */

#include "prim.h"

/* ---- arena.c: the VA reservation and the chunk map ------------------- */

enum hpa_chunk_kind {
	HPA_CHUNK_FREE = 0,	/* reserved, PROT_NONE */
	HPA_CHUNK_POOL,		/* committed, in the page pool */
	HPA_CHUNK_SEGMENT,	/* committed, a heap's segment */
	HPA_CHUNK_HUGE,		/* first chunk of a run of whole chunks */
	HPA_CHUNK_DMA,		/* first chunk of a DMA buffer */
	HPA_CHUNK_TAIL,		/* later chunk of a HUGE/DMA run */
	HPA_CHUNK_CLAIMED,	/* VA taken, being committed */
};

struct hpa_chunk {
	uint8_t kind;		/* enum hpa_chunk_kind */
	uint8_t backend;	/* enum hpa_backend */
	uint8_t page_shift;
	uint8_t fresh;		/* committed, never handed out: reads zero */
	int16_t node;
	uint16_t bound;		/* committed with an explicit node (mbind) */
	uint32_t nchunks;	/* HUGE/DMA: committed chunks in the run */
	uint32_t head;		/* TAIL: index of the run's first chunk */
	uint64_t size;		/* HUGE/DMA: bytes asked for */
	uint64_t handle;	/* DMA: device handle */
	void *aux;		/* HUGE: start pointer (aligned allocs);
				 * SEGMENT: its struct hpa_segment */
};

struct hpa_arena {
	char *base;		/* reservation start, 1 GiB aligned (2 MiB
				 * when smaller than 2 GiB) */
	size_t size;
	size_t nchunks;
	size_t base_chunk;	/* base >> HPA_CHUNK_SHIFT */
	uint64_t *used;		/* bit per chunk: VA taken */
	struct hpa_chunk *map;	/* entry per chunk */
	/*
	 * Entry per 64 KiB unit: the live page the unit belongs to, as its
	 * distance from hpa_no_page, so 0 for anything else (free units, big
	 * blocks, DMA buffers, free VA); read and written with
	 * hpa_unit_page() and hpa_unit_page_set().  free finds a block's page
	 * with one load, no chunk map or segment.
	 */
	uintptr_t *pages;
	size_t low_hint;	/* segments grow up from the bottom */
	size_t high_hint;	/* huge runs come from the top half */
	struct hpa_lock lock;
};

/* Hidden here too, so the fast paths address it directly, not via GOT. */
extern struct hpa_arena hpa_arena __attribute__((visibility("hidden")));

/* Smallest reservation: a few segments and big blocks (ulimit -v 32M). */
#define HPA_RESERVE_MIN	(8 * HPA_MiB)

int hpa_arena_init(size_t reserve);
/* n free chunks, first chunk index a multiple of align_chunks. */
long hpa_arena_take(size_t n, size_t align_chunks, bool high);
/* Take exactly [idx, idx+n) if free; false otherwise. */
bool hpa_arena_take_at(size_t idx, size_t n);
void hpa_arena_give(size_t idx, size_t n);

/* Chunk state transitions: the only code that writes hpa_arena.map. */
void hpa_chunks_commit(size_t idx, size_t n, const struct hpa_commit *out,
		       int node, bool bind);
void hpa_chunks_rebackend(size_t idx, size_t n, const struct hpa_commit *out);
void hpa_chunks_to_pool(size_t idx, size_t n);
void hpa_chunks_claim(size_t idx, size_t n);
void hpa_chunk_to_segment(size_t idx, void *seg);
void hpa_chunks_mark_huge(size_t idx, size_t n, uint64_t size);
void hpa_chunks_mark_dma(size_t idx, size_t n, uint64_t size, uint64_t handle,
			 unsigned int page_shift, int node);
void hpa_chunks_move(size_t to, size_t from, size_t n);
bool hpa_chunk_take_fresh(size_t idx);

static inline bool hpa_in_arena(const void *p)
{
	return (uintptr_t)p - (uintptr_t)hpa_arena.base < hpa_arena.size;
}

static inline size_t hpa_chunk_index(const void *p)
{
	return ((uintptr_t)p - (uintptr_t)hpa_arena.base) >> HPA_CHUNK_SHIFT;
}

/*
 * What a unit map entry of 0 reads as: a page with no blocks that no heap
 * owns (its heap is itself, never a thread's heap) and a frontier of 0, so
 * free goes from the unit map entry to its bounds compare without a NULL
 * test, and that sends it to hpa_heap_free_odd(), which sends it on to
 * hpa_free_other().  Set at start-up (heap.c).
 */
extern struct hpa_page *hpa_no_page __attribute__((visibility("hidden")));

/* The live page of unit u of the reservation; hpa_no_page if none. */
static inline __attribute__((always_inline)) struct hpa_page *
hpa_unit_page(size_t u)
{
	return (struct hpa_page *)((uintptr_t)hpa_no_page +
				   hpa_arena.pages[u]);
}

/* pg NULL: the unit is in no page. */
static inline void hpa_unit_page_set(size_t u, struct hpa_page *pg)
{
	hpa_arena.pages[u] = pg ? (uintptr_t)pg - (uintptr_t)hpa_no_page : 0;
}

static inline void *hpa_chunk_addr(size_t idx)
{
	return hpa_arena.base + (idx << HPA_CHUNK_SHIFT);
}

/* ---- pool.c ---------------------------------------------------------- */

/*
 * One committed chunk from node's pool (or freshly committed), or -ENOMEM;
 * errno is left alone (the public API that fails sets it).
 */
long hpa_pool_get(int node, bool bind);
/* The same on 4 KiB pages (a small heap's segment). */
long hpa_pool_get_small(int node, bool bind);
/* Give a committed chunk back; decommitted beyond the retention limit. */
void hpa_pool_put(size_t idx);
/* Commit [idx, idx+n) (already taken) on node; fills the chunk map. */
int hpa_pool_commit(size_t idx, size_t n, int node, bool bind,
		    bool allow_1g);
/* Decommit [idx, idx+n) and give the VA back. */
void hpa_pool_release(size_t idx, size_t n);
void hpa_pool_release_keep_va(size_t idx, size_t n);
void hpa_pool_stats(uint64_t *retained);
/* Decommit every retained chunk and run (malloc_trim); bytes released. */
size_t hpa_pool_trim(void);
/* Runs of n chunks, kept whole; -1 when none is cached. */
long hpa_pool_get_run(size_t n, int node, bool bind);
void hpa_pool_put_run(size_t idx, size_t n);
/* Fork safety: hold every pool lock across fork. */
void hpa_pool_lock_all(void);
void hpa_pool_unlock_all(void);

/* ---- sizeclass.c ----------------------------------------------------- */

#define HPA_SMALL_MAX	(1UL << 20)	/* largest in-segment block */
#define HPA_NCLASSES	60

struct hpa_class {
	uint32_t size;		/* block size */
	uint16_t units;		/* 64 KiB units per page */
	uint16_t blocks;	/* blocks per page */
};

extern struct hpa_class hpa_classes[HPA_NCLASSES];
void hpa_sizeclass_init(void);

static inline unsigned int hpa_size_class_calc(size_t size)
{
	unsigned int b, sub;

	if (size <= 128)
		return size <= 16 ? 0 : (unsigned int)((size - 1) >> 4);
	b = 63 - (unsigned int)__builtin_clzl(size - 1);
	sub = (unsigned int)((size - 1) >> (b - 2)) & 3;
	return 8 + (b - 7) * 4 + sub;
}

extern const uint8_t hpa_class_by_16[65];
#define HPA_SMALL_TABLE_MAX	1024	/* hpa_class_by_16 covers sizes <= */

static inline unsigned int hpa_size_class(size_t size)
{
	if (HPA_LIKELY(size <= 1024))
		return hpa_class_by_16[(size + 15) >> 4];
	return hpa_size_class_calc(size);
}

/* ---- segment.c ------------------------------------------------------- */

struct hpa_heap;

/*
 * A free block.  tag says where it is: hpa_free_cookie in a free cache (the
 * freeing thread's, whichever heap the block's page is in), ^ HPA_MAP_TAG
 * in its page's bitmap, ^ HPA_REMOTE_TAG on its page's remote list, 0 from
 * malloc on.  free writes the tag and never reads it (the block's line is
 * often in neither core's cache, and a load of it stalls free where a
 * store does not); each way out of a free state checks it instead:
 * malloc's pop of a free cache, the bitmap's take of a block handed out
 * before, a cache flush, the collection of a remote list, a page's
 * release.  A block freed twice sits in two places, and whichever it
 * leaves first clears or rewrites the tag the other one expects, so it is
 * caught before it can be handed out twice (hpa_heap_reuse_bad()).  free
 * catches at once a block that is already the head of its class's cache.
 */
struct hpa_block {
	struct hpa_block *next;
	uint64_t tag;
};

/* Random, bit 0 set (never 0), set at start-up. */
extern uint64_t hpa_free_cookie;
#define HPA_MAP_TAG	4ULL
#define HPA_REMOTE_TAG	8ULL

/*
 * A free block was about to leave a free state, and its tag says it is not
 * in it: freed twice (or written to after its free).  Aborts; not declared
 * _Noreturn, so that the fast paths reach it with a jump and need no stack
 * frame of their own.
 */
void *hpa_heap_reuse_bad(const struct hpa_block *b) __attribute__((cold));

/*
 * A page: a run of units in one segment, cut into blocks of one class.
 * Free blocks are a two-level bitmask: free_map has a bit per block,
 * nonempty a bit per free_map word that may hold free blocks (every
 * non-zero word has its bit; malloc clears a bit when it finds its word
 * empty).
 *
 * Three cache lines by who writes them, so that frees from other threads
 * do not bounce the line the owner's malloc and free write: the first is
 * set when the page is carved and then only read (by the owner and by
 * remote freers), the second is written by remote freers, the third (and
 * the bitmap after it) only by the owner.
 */
struct hpa_class_list;

struct hpa_page {
	char *start;
	uint64_t div_magic;	/* hpa_div_magic(block_size) */
	struct hpa_heap *heap;			/* owner */
	uint64_t cookie;			/* hpa_free_cookie */
	/*
	 * The frontier: blocks 0 to limit - 1 have been handed out at least
	 * once, the rest never (malloc takes the lowest free bit, so a page
	 * fills from block 0 up).  64 bits: free compares it to a register,
	 * and that one compare rejects a pointer into a block and a block
	 * that was never allocated (its tag is whatever the memory held, not
	 * a free tag).  Written by the heap that takes blocks from the page,
	 * read by any freer: relaxed accesses, hpa_page_limit() and
	 * hpa_page_set_limit() (a plain field, so that free's read can be
	 * the compare's memory operand).
	 */
	uint64_t limit;
	uint32_t block_size;
	/*
	 * Where in the freeing thread's heap free pushes a block of this
	 * page: the byte offset of cls[cls], or of `direct` for a node
	 * heap's page (whose blocks go back to it at once).
	 */
	uint32_t cl_off;
	uint8_t cls;
	uint8_t units;				/* 0: this page is not in use */

	_Atomic(struct hpa_block *) remote	/* frees from other threads */
		__attribute__((aligned(64)));
	struct hpa_page *remote_next;		/* heap's remote_pages stack */

	uint64_t nonempty			/* owner only from here on */
		__attribute__((aligned(64)));
	uint32_t used;				/* blocks handed out */
	uint8_t full;				/* on the heap's full list */
	struct hpa_page *next, *prev;		/* heap's class list */
	uint64_t free_map[HPA_BITMAP_WORDS];	/* 1 = free */
};

/*
 * A segment's header lives outside the chunk (heap.c allocates it from
 * metadata memory and the chunk map entry points to it), so all 32 units of
 * the chunk hold pages: two 1 MiB pages, eight of 256 KiB.
 */
struct hpa_segment {
	struct hpa_heap *heap;			/* owner */
	char *base;				/* the chunk */
	struct hpa_segment *next, *prev;	/* heap's segment list */
	uint32_t free_units;			/* bit per free unit */
	/* unit -> its live page; NULL for units in no page */
	struct hpa_page *unit_page[HPA_UNITS];
	int32_t node;
	uint32_t kind;				/* hpa_seg_kind(units) */
	struct hpa_page pages[HPA_UNITS];
};

#define HPA_SEG_ALL_FREE	(~(uint32_t)0)

/* The segment of p, which must be in a HPA_CHUNK_SEGMENT chunk. */
static inline struct hpa_segment *hpa_segment_of(const void *p)
{
	return hpa_arena.map[hpa_chunk_index(p)].aux;
}

void hpa_segment_init(struct hpa_segment *seg, char *base,
		      struct hpa_heap *heap, int node);
/* Carve a page of class cls; NULL when no run of units is free. */
struct hpa_page *hpa_segment_page_new(struct hpa_segment *seg,
				      unsigned int cls);
void hpa_segment_page_free(struct hpa_segment *seg, struct hpa_page *pg);

static inline bool hpa_segment_empty(const struct hpa_segment *seg)
{
	return seg->free_units == HPA_SEG_ALL_FREE;
}

/*
 * The block-start test's multiplier for a block size of odd * 2^k:
 * odd^-1 modulo 2^64 (Newton's iteration, each step doubling the bits
 * right from odd * odd = 1 mod 8), times 2^(HPA_DIV_ROT - k).
 */
#define HPA_DIV_ROT	20	/* log2 of the largest class, 1 MiB */
_Static_assert((1UL << HPA_DIV_ROT) == HPA_SMALL_MAX,
	       "no class size has more than HPA_DIV_ROT factors of 2");

static inline uint64_t hpa_div_magic(uint32_t size)
{
	unsigned int k = (unsigned int)__builtin_ctz(size);
	uint64_t odd = size >> k, inv = odd;
	int i;

	for (i = 0; i < 5; i++)
		inv *= 2 - odd * inv;
	return inv << (HPA_DIV_ROT - k);
}

/*
 * Block index of p, which must lie in one of pg's units, or a number
 * past the page's blocks if p is not a block start (inside a block, past
 * the last one): an exact-division test, one multiply, one rotate by a
 * constant and one compare, no division.  The block size is odd * 2^k (k <= 20, the
 * largest class being 1 MiB) and div_magic is the inverse of odd modulo
 * 2^64 times 2^(20-k), so off * div_magic is off' * odd^-1 with
 * off' = off * 2^(20-k) < 2^41, and off is a multiple of the size exactly
 * when off' is a multiple of size' = odd * 2^20.  For n < 2^64,
 * ror(n * odd^-1, 20) <= (2^64 - 1) / size' if and only if size' divides n,
 * and then it is n / size' (the quotient times 2^20 times odd is n, and
 * the inverse undoes the odd factor; conversely a value that small has its
 * low 20 bits clear before the rotate, and times odd it does not wrap, so
 * it is n / odd with n a multiple of odd).  Since n / size' = off / size
 * and a page's block count is far below (2^64 - 1) / size' (more than
 * 2^24, size' being below 2^40), one unsigned compare with pg->limit tells
 * a block start that was handed out from anything else, a block past the
 * last one and a block never allocated included.
 */
static inline __attribute__((always_inline)) uint64_t
hpa_page_block_rot(const struct hpa_page *pg, const void *p)
{
	uint64_t t = ((uintptr_t)p - (uintptr_t)pg->start) * pg->div_magic;

	return (t >> HPA_DIV_ROT) | (t << (64 - HPA_DIV_ROT));
}

/*
 * pg->limit as free reads it: a plain load where HPA_OWNER_RMW says plain
 * accesses are what relaxed ones compile to (compilers do not fold an
 * atomic load into the compare), a relaxed atomic load under TSan.
 */
static inline __attribute__((always_inline)) uint64_t
hpa_page_limit(const struct hpa_page *pg)
{
#ifdef HPA_OWNER_RMW
	return pg->limit;
#else
	return __atomic_load_n(&pg->limit, __ATOMIC_RELAXED);
#endif
}

static inline void hpa_page_set_limit(struct hpa_page *pg, uint64_t limit)
{
	__atomic_store_n(&pg->limit, limit, __ATOMIC_RELAXED);
}

/* Block index of p in pg; -1 if p is not a block handed out. */
static inline long hpa_page_block_index(const struct hpa_page *pg,
					const void *p)
{
	uint64_t idx = hpa_page_block_rot(pg, p);

	return idx < hpa_page_limit(pg) ? (long)idx : -1;
}

static inline struct hpa_page *hpa_segment_page_of(struct hpa_segment *seg,
						   const void *p)
{
	unsigned int u = (unsigned int)(((uintptr_t)p & HPA_CHUNK_MASK) >>
					HPA_UNIT_SHIFT);

	/*
	 * unit_page[u] stays put while a block of the page is live (remote
	 * frees read it concurrently with the owner).
	 */
	return seg->unit_page[u];
}

/* ---- heap.c ---------------------------------------------------------- */


/* Segments hold pages of similar run lengths: 1, 2-3, 4-7, 8+ units. */
#define HPA_SEG_KINDS	4

static inline unsigned int hpa_seg_kind(unsigned int units)
{
	return units >= 8 ? 3 : units >= 4 ? 2 : units >= 2 ? 1 : 0;
}

/*
 * One cache line per class.  malloc first pops the class's free cache, a
 * LIFO list of the blocks this heap freed last (the block just freed is
 * reused first, while it is in L1), then takes the lowest bit of *word, the
 * free_map word of the head page it allocates from (hpa_empty_word when
 * there is none), and returns base + bit * size.  A local free pushes the
 * block onto the cache; past cache_max the older half goes back to the
 * bitmaps (hpa_heap_cache_flush), where pages fill up and empty.
 */
struct hpa_class_list {
	struct hpa_block *cache;	/* freed blocks, newest first */
	uint64_t *word;
	char *base;			/* the block of bit 0 of *word */
	size_t size;			/* block size */
	struct hpa_page *avail;		/* pages with free blocks; head first */
	struct hpa_page *full;		/* pages without */
	/* Owner-written, read by hpa_stats: relaxed atomics. */
	_Atomic uint32_t cache_room;	/* cache_max - blocks in cache */
	uint16_t cache_max;		/* at most HPA_CACHE_MAX */
	/* Block index of bit 0 of *word: kept, so take needs no division. */
	uint16_t bit0;
	_Atomic uint64_t in_use;	/* blocks out of the bitmaps */
	_Atomic uint64_t pages;
} __attribute__((aligned(64)));

extern uint64_t hpa_empty_word;		/* always 0 */

struct hpa_heap {
	struct hpa_class_list cls[HPA_NCLASSES];
	/*
	 * Where this thread's frees of node heaps' blocks go (their pages'
	 * cl_off): a cache of one block, so each push flushes it at once
	 * onto its page's remote list.
	 */
	struct hpa_class_list direct;
	_Atomic(struct hpa_page *) remote_pages;
	/*
	 * Segments with free units and full ones, by kind: pages of one unit
	 * and pages of several never share a segment, so long runs are not
	 * cut up by small pages (less fragmentation, segments empty sooner).
	 */
	struct hpa_segment *segs[HPA_SEG_KINDS];
	struct hpa_segment *segs_full[HPA_SEG_KINDS];
	int node;
	bool shared;			/* node heap: used under lock */
	bool bind;			/* segments bound to node */
	bool abandoned;
	struct hpa_lock lock;		/* only for shared heaps */
	struct hpa_heap *next_all;
	struct hpa_heap *next_abandoned;
	_Atomic uint64_t nsegments;	/* owner-written, relaxed */
};

extern __thread struct hpa_heap *hpa_tls_heap
	__attribute__((tls_model("initial-exec")));
extern struct hpa_heap *hpa_all_heaps;
extern struct hpa_lock hpa_heaps_lock;

struct hpa_heap *hpa_heap_get_slow(void);
struct hpa_heap *hpa_heap_node(int node);

static inline struct hpa_heap *hpa_heap_get(void)
{
	struct hpa_heap *h = hpa_tls_heap;

	if (HPA_LIKELY(h != NULL && (uintptr_t)h > 1))
		return h;
	return hpa_heap_get_slow();
}

/*
 * The class's word ran out: hpa_heap_next_word, else hpa_heap_refill; NULL
 * when no memory is left (errno untouched).
 */
void *hpa_heap_alloc_slow(struct hpa_heap *h, unsigned int cls);
/* A new head page for the class (remote frees collected first), or NULL. */
void *hpa_heap_refill(struct hpa_heap *h, unsigned int cls);
/*
 * What the fast path below calls when the class's word ran out:
 * hpa_heap_alloc_slow for the library's own callers, hpa_malloc_refill
 * (alloc.c: the same, and errno = ENOMEM on NULL) for the exported
 * functions, in tail position, so that they need no check of their own.
 */
typedef void *hpa_refill_fn(struct hpa_heap *h, unsigned int cls);
/*
 * A free from a thread without a heap (p first: free keeps it in the
 * register it came in): onto the page's remote list.
 */
void hpa_heap_free_direct(void *p, struct hpa_page *pg);
void hpa_heap_page_emptied(struct hpa_heap *h, struct hpa_page *pg);
void hpa_heap_page_unfull(struct hpa_heap *h, struct hpa_page *pg);
void hpa_heap_free_slow(struct hpa_heap *h, struct hpa_page *pg);
void hpa_heaps_lock_all(void);
void hpa_heaps_unlock_all(void);

/* Counters only their owner thread writes (HPA_OWNER_RMW above). */
static inline __attribute__((always_inline)) void
hpa_count_add(_Atomic uint64_t *c, int64_t d)
{
#ifdef HPA_OWNER_RMW
	__asm__("addq %1, %0" : "+m"(*(uint64_t *)c) : "er"(d) : "cc");
#else
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed)
			      + (uint64_t)d, memory_order_relaxed);
#endif
}

static inline __attribute__((always_inline)) void
hpa_count32_inc(_Atomic uint32_t *c)
{
#ifdef HPA_OWNER_RMW
	__asm__("incl %0" : "+m"(*(uint32_t *)c) : : "cc");
#else
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed)
			      + 1, memory_order_relaxed);
#endif
}

/* Decrement; true when the counter reaches 0. */
static inline __attribute__((always_inline)) bool
hpa_count32_dec(_Atomic uint32_t *c)
{
#ifdef HPA_OWNER_RMW
	bool zero;

	__asm__("decl %0" : "+m"(*(uint32_t *)c), "=@ccz"(zero));
	return zero;
#else
	uint32_t v = atomic_load_explicit(c, memory_order_relaxed) - 1;

	atomic_store_explicit(c, v, memory_order_relaxed);
	return v == 0;
#endif
}

/*
 * Take the lowest free block of word, the value of *cl->word (not 0); the
 * first take of a block moves its page's frontier past it, a later one
 * checks its bitmap tag.
 */
static inline void *hpa_class_take(struct hpa_class_list *cl, uint64_t word)
{
	struct hpa_page *pg = cl->avail;
	unsigned int bit = (unsigned int)__builtin_ctzll(word);
	uint64_t idx = (uint64_t)cl->bit0 + bit;
	struct hpa_block *b;

	*cl->word = word & (word - 1);
	pg->used++;
	b = (struct hpa_block *)(cl->base + (size_t)bit * cl->size);
	if (HPA_UNLIKELY(idx >= hpa_page_limit(pg)))
		hpa_page_set_limit(pg, idx + 1);
	else if (HPA_UNLIKELY(b->tag != (pg->cookie ^ HPA_MAP_TAG)))
		return hpa_heap_reuse_bad(b);
	hpa_count_add(&cl->in_use, 1);
	b->tag = 0;
	return b;
}

/* Point the class at word w of its head page pg; a block from it. */
static inline void *hpa_class_use_word(struct hpa_class_list *cl,
				       struct hpa_page *pg, unsigned int w)
{
	cl->word = &pg->free_map[w];
	cl->bit0 = (uint16_t)(w * 64);
	cl->base = pg->start + (size_t)w * 64 * pg->block_size;
	return hpa_class_take(cl, pg->free_map[w]);
}

/*
 * The class's word ran out: most often the head page has another word with
 * free blocks, found with ctz of its nonempty mask (no call, no lock).
 * NULL when it has none (or remote frees wait): hpa_heap_refill then.
 */
static inline __attribute__((always_inline)) void *
hpa_heap_next_word(struct hpa_heap *h, unsigned int cls)
{
	struct hpa_class_list *cl = &h->cls[cls];
	struct hpa_page *pg = cl->avail;
	uint64_t ne;

	if (HPA_LIKELY(pg && !atomic_load_explicit(&h->remote_pages,
						   memory_order_relaxed))) {
		for (ne = pg->nonempty; ne; ne &= ne - 1) {
			unsigned int w = (unsigned int)__builtin_ctzll(ne);

			if (pg->free_map[w]) {
				pg->nonempty = ne;
				return hpa_class_use_word(cl, pg, w);
			}
		}
		pg->nonempty = 0;
	}
	return NULL;
}

/*
 * The malloc fast path: pop the class's free cache (its tag checked); else
 * ctz of the class's current bitmap word; else refill.
 */
static inline __attribute__((always_inline)) void *
hpa_heap_alloc_cl_then(struct hpa_heap *h, struct hpa_class_list *cl,
		       hpa_refill_fn *refill)
{
	struct hpa_block *b = cl->cache;
	uint64_t word;

	if (HPA_LIKELY(b)) {
		if (HPA_UNLIKELY(b->tag != hpa_free_cookie))
			return hpa_heap_reuse_bad(b);
		cl->cache = b->next;
		b->tag = 0;
		hpa_count32_inc(&cl->cache_room);
		return b;
	}
	word = *cl->word;
	if (HPA_LIKELY(word))
		return hpa_class_take(cl, word);
	return refill(h, (unsigned int)(cl - h->cls));
}

static inline __attribute__((always_inline)) void *
hpa_heap_alloc_cl(struct hpa_heap *h, struct hpa_class_list *cl)
{
	return hpa_heap_alloc_cl_then(h, cl, hpa_heap_alloc_slow);
}

static inline void *hpa_heap_alloc_unlocked(struct hpa_heap *h,
					    unsigned int cls)
{
	return hpa_heap_alloc_cl(h, &h->cls[cls]);
}

/*
 * Sizes up to 1 KiB straight to their class list: the byte offset of
 * h->cls[class] by (size + 15) / 16, one load (filled at start-up).
 */
extern uint16_t hpa_class_off_by_16[65];

static inline __attribute__((always_inline)) void *
hpa_heap_alloc_upto_1k(struct hpa_heap *h, size_t size, hpa_refill_fn *refill)
{
	return hpa_heap_alloc_cl_then(h, (struct hpa_class_list *)((char *)h +
				      hpa_class_off_by_16[(size + 15) >> 4]),
				      refill);
}

void *hpa_heap_alloc_locked(struct hpa_heap *h, unsigned int cls);

static inline void *hpa_heap_alloc(struct hpa_heap *h, unsigned int cls)
{
	if (HPA_LIKELY(!h->shared))
		return hpa_heap_alloc_unlocked(h, cls);
	return hpa_heap_alloc_locked(h, cls);
}

void hpa_heap_cache_flush(struct hpa_heap *h, struct hpa_class_list *cl,
			  uint32_t keep);
/*
 * A free of p that is no block pg handed out: a big block or a pointer in
 * no page (pg is hpa_no_page) to hpa_free_other(), else abort with what
 * it is.
 */
void hpa_heap_free_odd(const struct hpa_page *pg, void *p);

/*
 * Push b onto h's free cache cl; the older half out when it is full.  A
 * block that is the cache's head already was freed twice in a row.
 */
static inline __attribute__((always_inline)) void
hpa_heap_cache_push(struct hpa_heap *h, struct hpa_class_list *cl,
		    struct hpa_block *b, uint64_t cookie)
{
	struct hpa_block *head = cl->cache;

	if (HPA_UNLIKELY(b == head)) {
		hpa_heap_reuse_bad(b);
		return;
	}
	b->next = head;
	b->tag = cookie;
	cl->cache = b;
	if (HPA_UNLIKELY(hpa_count32_dec(&cl->cache_room)))
		hpa_heap_cache_flush(h, cl, cl->cache_max / 2);
}

/* Thread exit: give the heap to the next new thread. */
void hpa_heap_abandon(struct hpa_heap *h);
void hpa_heaps_init(void);

/* ---- huge.c ---------------------------------------------------------- */

/* A block of whole chunks; NULL: no memory (errno is the caller's to set). */
void *hpa_huge_alloc(size_t size, size_t align, int node);
void hpa_huge_free(size_t idx, const void *p);
/*
 * Resize the big block p (chunk idx) to size: 0 and the block in *out (p
 * itself, or where it moved), or -ENOMEM with p untouched.  errno is left
 * alone.
 */
int hpa_huge_realloc(size_t idx, void *p, size_t size, void **out);
size_t hpa_huge_usable(size_t idx, const void *p);

/* ---- init.c: start-up, atfork handlers -------------------------------- */

extern _Atomic int hpa_initialized;
extern enum hpa_backend hpa_backend_chosen;
void hpa_init_slow(void);

static inline void hpa_ensure_init(void)
{
	if (HPA_UNLIKELY(!atomic_load_explicit(&hpa_initialized,
					       memory_order_acquire)))
		hpa_init_slow();
}

/* ---- alloc.c: the public malloc-style API ---------------------------- */

/*
 * errno belongs to the exported functions: the internal allocation
 * functions (the heap's, huge.c's and those here) return NULL for "no
 * memory" and leave errno alone; an exported function that fails sets
 * errno once, on its way out.  The malloc fast path cannot afford a check
 * of its own (a call that is not in tail position makes the compiler save
 * registers on every path), so the exported functions inline a variant of
 * it whose two out-of-line exits, hpa_malloc_refill and hpa_malloc_slow,
 * are theirs: the internal hpa_heap_alloc_slow and hpa_alloc_any, and
 * errno = ENOMEM when those have nothing.  Only exported functions call
 * those two, and hpa_nomem.
 */
void *hpa_alloc_aligned_node(size_t size, size_t align, int node);
/* Any size, this thread's heap or a big block. */
void *hpa_alloc_any(size_t size);

void *hpa_malloc_refill(struct hpa_heap *h, unsigned int cls);
void *hpa_malloc_slow(size_t size);
/* errno = ENOMEM; NULL.  Out of line: the exported functions' last call. */
__attribute__((cold)) void *hpa_nomem(void);

static inline void *hpa_alloc_small(size_t size)
{
	struct hpa_heap *h = hpa_heap_get();

	if (HPA_UNLIKELY(!h))
		return NULL;
	return hpa_heap_alloc(h, hpa_size_class(size));
}

static inline __attribute__((always_inline)) void *
hpa_alloc_fast(size_t size, hpa_refill_fn *refill, void *(*slow)(size_t))
{
	struct hpa_heap *h = hpa_tls_heap;

	/* A thread's own heap is never shared: no lock to check for. */
	if (HPA_LIKELY((uintptr_t)h > 1)) {
		if (HPA_LIKELY(size <= HPA_SMALL_TABLE_MAX))
			return hpa_heap_alloc_upto_1k(h, size, refill);
		if (size <= HPA_SMALL_MAX)
			return hpa_heap_alloc_cl_then(h,
					&h->cls[hpa_size_class_calc(size)],
					refill);
	}
	return slow(size);
}

/* The malloc fast path for the library's own callers: errno untouched. */
static inline void *hpa_alloc_inline(size_t size)
{
	return hpa_alloc_fast(size, hpa_heap_alloc_slow, hpa_alloc_any);
}

/* The exported malloc's body: NULL with errno = ENOMEM. */
static inline __attribute__((always_inline)) void *
hpa_malloc_inline(size_t size)
{
	return hpa_alloc_fast(size, hpa_malloc_refill, hpa_malloc_slow);
}

/* The chunk entry of p, or NULL if p is not ours. */
static inline const struct hpa_chunk *hpa_chunk_of(const void *p, size_t *idx)
{
	const struct hpa_chunk *c;

	if (HPA_UNLIKELY(!hpa_in_arena(p)))
		return NULL;
	*idx = hpa_chunk_index(p);
	c = &hpa_arena.map[*idx];
	return c;
}

/*
 * The free fast path: a block in a live page (one load from the unit map)
 * goes onto the freeing thread's own free cache of its class, whichever
 * heap the page is in (a thread that frees what another made reuses it
 * with its next malloc, as jemalloc's and tcmalloc's thread caches do:
 * no atomic instruction, and no branch on who made the block).  Past the
 * cache's limit the older half goes back: its own blocks to their pages'
 * bitmaps, other heaps' onto their pages' remote lists
 * (hpa_heap_cache_flush()).  False when p is outside the reservation
 * (NULL, not ours): the caller's hpa_free_other() then.  In the
 * reservation but in no page (a big block, a bad pointer), the page is
 * hpa_no_page, whose frontier is 0: hpa_heap_free_odd().
 */
static inline __attribute__((always_inline)) bool hpa_free_small(void *p)
{
	uintptr_t off = (uintptr_t)p - (uintptr_t)hpa_arena.base;
	struct hpa_heap *me;
	struct hpa_page *pg;

	if (HPA_UNLIKELY(off >= hpa_arena.size))
		return false;
	pg = hpa_unit_page(off >> HPA_UNIT_SHIFT);
	me = hpa_tls_heap;
	if (HPA_UNLIKELY((uintptr_t)me <= 1))
		hpa_heap_free_direct(p, pg);
	else if (HPA_UNLIKELY(hpa_page_block_rot(pg, p) >= hpa_page_limit(pg)))
		hpa_heap_free_odd(pg, p);
	else
		hpa_heap_cache_push(me, (struct hpa_class_list *)((char *)me +
				    pg->cl_off), p, pg->cookie);
	return true;
}

void hpa_free_other(void *p);

static inline void hpa_free_inline(void *p)
{
	if (HPA_UNLIKELY(!hpa_free_small(p)))
		hpa_free_other(p);
}

/* ---- stats.c --------------------------------------------------------- */

/* At start-up: keep a descriptor for the HPALLOC_STATS summary. */
void hpa_stats_init(void);
/* The HPALLOC_STATS / malloc_stats summary, written to fd. */
void hpa_stats_print(int fd);
/* malloc_info's XML, written to fd; 0 or -errno. */
int hpa_stats_print_xml(int fd);

/*
 * prim.c: what backs [start, start+len) according to /proc/self/smaps
 * (device PFN mappings are not in it); 0 or -errno.
 */
struct hpa_backed {
	uint64_t rss, anon_huge, hugetlb;
};
int hpa_prim_backed(const void *start, size_t len, struct hpa_backed *out);

struct hpa_global_stats {
	_Atomic uint64_t bytes_mapped;
	_Atomic uint64_t huge_in_use;
	_Atomic uint64_t pages_2m;
	_Atomic uint64_t pages_1g;
	_Atomic uint64_t fallbacks;
	_Atomic uint64_t realloc_remaps;
	_Atomic uint64_t realloc_in_place;
	_Atomic uint64_t realloc_copies;
	_Atomic uint64_t dma_buffers;
	_Atomic uint64_t node_bytes[HPA_STATS_MAX_NODES];
	_Atomic uint64_t be_bytes[HPA_BACKEND_MAX];
	_Atomic uint64_t be_maps[HPA_BACKEND_MAX];
	_Atomic uint64_t be_fail[HPA_BACKEND_MAX];
};

extern struct hpa_global_stats hpa_gstats;

static inline void hpa_stat_add(_Atomic uint64_t *c, int64_t d)
{
	atomic_fetch_add_explicit(c, (uint64_t)d, memory_order_relaxed);
}

#endif /* HPA_INTERNAL_H */
