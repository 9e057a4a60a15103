/* SPDX-License-Identifier: MIT */
/*
 * The backend contract: what the allocator asks of the primitive layer,
 * the only code that opens files, issues ioctls or maps memory.  os.c
 * implements it over the OS (device: prim-device.c; hugetlb, thp, 4k:
 * prim.c); the unit tests' fake (selftests/lib/fake_prim.c) implements it
 * over plain memory that faults when the allocator touches what it gave
 * back.
 */
#ifndef HPA_PRIM_H
#define HPA_PRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hpalloc.h"

/*
 * A committed range: what a backend mapped at a chunk-aligned address.
 * The allocator above never calls the OS; it calls these operations, which
 * tests replace with a fake (hpa_prim_set()).
 */
struct hpa_commit {
	uint8_t backend;	/* enum hpa_backend that served it */
	uint8_t page_shift;	/* 12, 21 or 30 */
	bool fallback;		/* a better backend failed first */
};

#define HPA_COMMIT_1G		1u	/* (true converts to this) */
#define HPA_COMMIT_SMALL	2u	/* 4 KiB pages: a heap's first segments */

/* What prim->dma_query reports about a DMA buffer. */
struct hpa_dma_query {
	size_t page_size;
	size_t nr_pages;
	uint64_t nodes;		/* mask of the nodes holding its pages */
};

struct hpa_prim_ops {
	const char *name;
	/*
	 * Reserve *size bytes of PROT_NONE address space aligned to align
	 * (2 MiB when *size is below 2 * align); *size shrinks to what
	 * RLIMIT_AS leaves and halves down to min while the kernel refuses.
	 */
	void *(*reserve)(size_t *size, size_t min, size_t align);
	/* Anonymous zeroed read-write memory for metadata (never freed). */
	void *(*meta_map)(size_t size);
	/*
	 * Back [addr, addr+len) (chunk aligned) with memory on node (-1: the
	 * caller's).  flags: HPA_COMMIT_1G uses 1 GiB pages where the range
	 * is 1 GiB aligned, HPA_COMMIT_SMALL 4 KiB pages whatever the
	 * backend.  0 or -errno; on failure the range is PROT_NONE.
	 */
	int (*commit)(void *addr, size_t len, int node, unsigned int flags,
		      struct hpa_commit *out);
	/* Return [addr, addr+len) to the OS; it reads PROT_NONE after. */
	int (*decommit)(void *addr, size_t len);
	/*
	 * Move the pages of [from, from+len) to [to, to+len) without copying
	 * bytes; [from, from+len) reads PROT_NONE after.  -errno if the
	 * backend cannot (the caller then copies).
	 */
	int (*move)(void *from, void *to, size_t len);
	/* Contiguous buffer for DMA at addr; handle for virt2phys/free. */
	int (*dma_commit)(void *addr, size_t len, int node, bool page_1g,
			  uint64_t *handle);
	int (*dma_release)(void *addr, size_t len, uint64_t handle);
	int (*virt2phys)(const void *p, uint64_t handle, void *map_start,
			 uint64_t *phys);
	/*
	 * Describe the DMA buffer handle in one query: its page size, page
	 * count and nodes, and the physical addresses of its first n pages
	 * into phys (none when n is 0).  0 or -errno.
	 */
	int (*dma_query)(uint64_t handle, uint64_t *phys, size_t n,
			 struct hpa_dma_query *out);
	/* A new dma-buf fd (O_CLOEXEC) for handle, read-only or not; -errno. */
	int (*dma_export)(uint64_t handle, bool readonly);
	/*
	 * Map all of dma-buf fd (len bytes) shared, at addr if not NULL (and
	 * nothing is there), else at an address aligned to align: 0 and the
	 * address in *out, or -errno.  unmap_fd undoes it.
	 */
	int (*map_fd)(int fd, void *addr, size_t len, size_t align,
		      void **out);
	/* The size of the dma-buf fd (its file's end), or -errno. */
	long (*fd_size)(int fd);
	int (*unmap_fd)(void *addr, size_t len);
	/* The caller's NUMA node; online node check. */
	int (*current_node)(void);
	bool (*node_online)(int node);
	/* Best backend, set up at init (prints reasons with HPALLOC_DEBUG). */
	enum hpa_backend (*init)(const char *forced);
	/*
	 * fork (fork.c), called in the child's atfork handler with every
	 * allocator lock held; privatize NULL: nothing needs doing at fork.
	 * shared_heap_chunks: how many chunks of heap memory (not DMA
	 * buffers) the child would share with its parent (device pages are
	 * MAP_SHARED); heap_shared: whether the chunk at addr is one.
	 * privatize: replace [addr, addr+len) by private memory at the same
	 * address, a copy of its bytes if copy (else zeroes), on node (-1:
	 * any); 0 and *out, or -errno.  fork_child: after the heap was
	 * privatized; DMA buffers stay shared, new memory comes from the
	 * backend it returns.
	 */
	uint64_t (*shared_heap_chunks)(void);
	bool (*heap_shared)(const void *addr);
	int (*privatize)(void *addr, size_t len, int node, bool copy,
			 struct hpa_commit *out);
	enum hpa_backend (*fork_child)(void);
	/* Sizes of 1 GiB pages usable now. */
	bool (*has_1g)(void);
};

extern const struct hpa_prim_ops hpa_prim_os;
extern const struct hpa_prim_ops *hpa_prim;
/* The backend called name (hpa_backend_name's table), or -EINVAL. */
int hpa_backend_by_name(const char *name);
/* Tests: use ops instead of the OS; must run before the first allocation. */
void hpa_prim_set(const struct hpa_prim_ops *ops);

#endif
