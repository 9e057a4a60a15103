/* SPDX-License-Identifier: MIT */
/*
 * libhpalloc-user: a malloc-compatible allocator whose memory lives on huge
 * pages (2 MiB / 1 GiB), from the right NUMA node, plus physically contiguous
 * DMA buffers.  Link with -lhpalloc-user (pkg-config hpalloc).
 *
 * Conventions:
 *  - functions returning a pointer return NULL and set errno on failure;
 *  - functions performing an action return 0 or a negative errno;
 *  - every function is thread-safe;
 *  - memory from hpa_malloc & co. is released with hpa_free, memory from
 *    hpa_dma_alloc with hpa_dma_free.  Passing any other pointer (one this
 *    library did not hand out) to hpa_free is heap corruption: the library
 *    aborts with a message naming the pointer.
 *
 * The backend (where huge pages come from) is chosen at first use, best
 * first: the /dev/hpalloc device, hugetlbfs, transparent huge pages, plain
 * 4 KiB pages.  HPALLOC_BACKEND=device|hugetlb|thp|4k forces one; see
 * docs/library.md for every HPALLOC_* environment variable.
 */
#ifndef HPALLOC_H
#define HPALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Allocate size bytes, 16-byte aligned.  size 0 returns a unique pointer. */
void *hpa_malloc(size_t size);

/* Allocate nmemb * size zeroed bytes; ENOMEM on overflow. */
void *hpa_calloc(size_t nmemb, size_t size);

/*
 * Resize.  Blocks larger than HPA_REMAP_THRESHOLD bytes, resized to more
 * than that, are never copied byte by byte: they grow in place by mapping
 * pages right after them, or move by remapping their page-table entries
 * (mremap); only a backend that cannot remap makes it copy (counted in
 * hpa_stats.realloc_copies).  ptr NULL acts as hpa_malloc; size 0 frees
 * ptr and returns NULL.  On failure ptr is left intact.
 */
void *hpa_realloc(void *ptr, size_t size);

/* Release a block from hpa_malloc & co.  NULL is ignored. */
void hpa_free(void *ptr);

/*
 * Allocate size bytes aligned to alignment, which must be a power of two
 * (EINVAL otherwise).  Unlike C11, size need not be a multiple of alignment.
 */
void *hpa_aligned_alloc(size_t alignment, size_t size);

/*
 * POSIX variant: returns 0, EINVAL (alignment not a power of two multiple of
 * sizeof(void *)) or ENOMEM; errno is not changed.
 */
int hpa_posix_memalign(void **memptr, size_t alignment, size_t size);

/* Bytes usable at ptr (>= the size asked for).  0 for NULL. */
size_t hpa_usable_size(const void *ptr);

/*
 * Allocate size bytes on NUMA node node.  node -1 means the calling thread's
 * node (what hpa_malloc does).  EINVAL if node is not online.  The memory is
 * released with hpa_free.
 */
void *hpa_malloc_node(size_t size, int node);

/* Above this many bytes hpa_realloc remaps instead of copying. */
#define HPA_REMAP_THRESHOLD	(1UL << 20)

/* hpa_dma_alloc flags */
#define HPA_DMA_1G		(1U << 0)	/* 1 GiB pages (else 2 MiB) */
#define HPA_DMA_VALID		(HPA_DMA_1G)

/*
 * Allocate one physically contiguous buffer of size bytes (rounded up to
 * the page size) on node (-1: the calling thread's node).  Only the device
 * backend can promise contiguity: on every other backend this fails with
 * ENODEV.  EINVAL on unknown flags or an offline node.  The buffer is
 * 2 MiB aligned (1 GiB with HPA_DMA_1G) and zeroed.
 */
void *hpa_dma_alloc(size_t size, int node, unsigned int flags);

/* Release a buffer from hpa_dma_alloc.  0, or -EINVAL if ptr is not one. */
int hpa_dma_free(void *ptr);

/*
 * Physical address of the byte at ptr.  0 or a negative errno: -EPERM when
 * the caller may not read physical addresses (CAP_SYS_RAWIO on the device,
 * CAP_SYS_ADMIN for /proc/self/pagemap), -EFAULT when ptr is not mapped,
 * -ENOENT when the page is not present yet.
 */
int hpa_virt2phys(const void *ptr, uint64_t *phys);

/*
 * The I/O address table of the DMA buffer that contains ptr, in one call
 * to the device: the physical address of each of its pages from the first,
 * up to n of them into iova[] (a device without an IOMMU, or DPDK in PA
 * mode, uses these), and the page size into *page_size (if not NULL).
 * Returns the number of pages of the buffer (n may be smaller; 0 asks for
 * the count only), or -EINVAL (not a buffer of hpa_dma_alloc), -EPERM (the
 * caller may not read physical addresses: see hpa_virt2phys), -ENODEV.
 */
long hpa_dma_pages(const void *ptr, uint64_t *iova, size_t n,
		   size_t *page_size);

/*
 * The NUMA nodes of the pages of the DMA buffer that contains ptr, as a
 * mask (bit n: node n).  0, -EINVAL or -ENODEV.  Needs no privilege.
 */
int hpa_dma_nodes(const void *ptr, uint64_t *nodes);

/* hpa_dma_fd flags */
#define HPA_DMA_FD_READONLY	(1U << 0)	/* mappings of it are read-only */
#define HPA_DMA_FD_VALID	(HPA_DMA_FD_READONLY)

/*
 * A new dma-buf file descriptor (O_CLOEXEC) for the DMA buffer that
 * contains ptr: pass it to a driver that imports dma-bufs, or to another
 * process (SCM_RIGHTS), which maps it with hpa_dma_map_fd.  The buffer
 * lives while the fd, a copy of it, a mapping or a driver holds it, also
 * after hpa_dma_free and the exit of this process.  Returns the fd, or
 * -EINVAL, -ENODEV (no device), -EOPNOTSUPP (a module without dma-buf
 * export), -EMFILE.
 */
int hpa_dma_fd(const void *ptr, unsigned int flags);

/*
 * Map all of a dma-buf from hpa_dma_fd (shared; writable unless it was
 * exported read-only) at addr, which must be free and aligned to the
 * buffer's page size, or with addr NULL at an address aligned to it.  The
 * size goes to *size (if not NULL).  NULL with errno on failure: EEXIST
 * (something is mapped at addr), EINVAL (addr not aligned), EBADF.
 * Unmap with hpa_dma_unmap_fd (not hpa_dma_free).
 */
void *hpa_dma_map_fd(int fd, void *addr, size_t *size);

/* Unmap what hpa_dma_map_fd mapped.  0 or -EINVAL / -errno of munmap. */
int hpa_dma_unmap_fd(void *addr, size_t size);

/* Backends (hpa_stats.backend, hpa_stats.per_backend[]). */
enum hpa_backend {
	HPA_BACKEND_DEVICE = 0,
	HPA_BACKEND_HUGETLB = 1,
	HPA_BACKEND_THP = 2,
	HPA_BACKEND_4K = 3,
	HPA_BACKEND_MAX
};

/*
 * Fixed array sizes of struct hpa_stats: the layout is ABI (an older
 * caller's smaller struct gets the prefix), so a new backend, node or
 * class must not move the fields after these arrays.
 */
#define HPA_STATS_MAX_NODES	8
#define HPA_STATS_MAX_BACKENDS	4
#define HPA_STATS_MAX_CLASSES	64

struct hpa_backend_stats {
	uint64_t bytes_mapped;		/* committed through this backend now */
	uint64_t maps;			/* successful map calls */
	uint64_t map_failures;		/* failed map calls (fell back) */
};

struct hpa_class_stats {
	uint64_t block_size;		/* 0: unused slot */
	uint64_t blocks_in_use;
	uint64_t pages;			/* class pages currently carved */
};

/*
 * A snapshot; counters of other threads are read without stopping them, so
 * the numbers are consistent to within the operations in flight.
 */
struct hpa_stats {
	uint32_t size;			/* in: sizeof(struct hpa_stats) */
	uint32_t backend;		/* enum hpa_backend chosen at start-up */
	uint64_t reserved_bytes;	/* virtual address reservation */
	uint64_t bytes_mapped;		/* committed memory, all backends */
	uint64_t bytes_in_use;		/* handed out to callers (block sizes) */
	uint64_t bytes_retained;	/* free, committed, kept for reuse */
	uint64_t segments;		/* 2 MiB segments cut into classes */
	uint64_t huge_pages_2m;		/* 2 MiB pages mapped as such */
	uint64_t huge_pages_1g;		/* 1 GiB pages mapped */
	uint64_t fallbacks;		/* maps served by a worse backend */
	uint64_t realloc_remaps;	/* hpa_realloc moves by mremap */
	uint64_t realloc_in_place;	/* hpa_realloc growths in place */
	uint64_t realloc_copies;	/* hpa_realloc moves by copying */
	uint64_t dma_buffers;		/* live hpa_dma_alloc buffers */
	uint64_t node_bytes[HPA_STATS_MAX_NODES]; /* committed per node */
	struct hpa_backend_stats per_backend[HPA_STATS_MAX_BACKENDS];
	struct hpa_class_stats per_class[HPA_STATS_MAX_CLASSES];
};

/*
 * Fill *st.  Set st->size = sizeof(*st) first; a smaller (older) struct gets
 * its prefix.  0, or -EINVAL if st is NULL or st->size is too small to hold
 * the header (size, backend).
 */
int hpa_stats(struct hpa_stats *st);

/* Name of a backend ("device", "hugetlb", "thp", "4k"), NULL if unknown. */
const char *hpa_backend_name(unsigned int backend);

/* Number of size classes, and the block size of class i (0 if none). */
unsigned int hpa_size_classes(void);
size_t hpa_class_size(unsigned int i);

#ifdef __cplusplus
}
#endif

#endif /* HPALLOC_H */
