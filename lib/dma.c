// SPDX-License-Identifier: MIT
/*
 * DMA buffers: one physically contiguous buffer per call, from the device
 * backend (HPALLOC_ALLOC_CONTIG).  Other backends cannot promise physical
 * contiguity, so hpa_dma_alloc fails there with ENODEV rather than hand out
 * a buffer whose pages may be scattered.  The device handle is kept in the
 * chunk map so that hpa_virt2phys and hpa_dma_pages can ask the device
 * (HPALLOC_IOC_QUERY) and hpa_dma_fd can export the buffer as a dma-buf,
 * which hpa_dma_map_fd maps in another process.
 */
#include <errno.h>

#include "internal.h"

HPA_EXPORT void *hpa_dma_alloc(size_t size, int node, unsigned int flags)
{
	size_t page, len, n;
	uint64_t handle;
	long idx;
	int err;

	hpa_ensure_init();
	if (flags & ~HPA_DMA_VALID || size == 0 || node < -1 ||
	    (node >= 0 && !hpa_prim->node_online(node))) {
		errno = EINVAL;
		return NULL;
	}
	page = flags & HPA_DMA_1G ? HPA_GiB : HPA_CHUNK_SIZE;
	if (size > hpa_arena.size / 2) {
		errno = ENOMEM;
		return NULL;
	}
	len = hpa_align_up(size, page);
	n = len >> HPA_CHUNK_SHIFT;
	idx = hpa_arena_take(n, page >> HPA_CHUNK_SHIFT, true);
	if (idx < 0) {
		errno = ENOMEM;
		return NULL;
	}
	err = hpa_prim->dma_commit(hpa_chunk_addr((size_t)idx), len, node,
				   flags & HPA_DMA_1G, &handle);
	if (err) {
		hpa_arena_give((size_t)idx, n);
		errno = -err;
		return NULL;
	}
	hpa_chunks_mark_dma((size_t)idx, n, size, handle,
			    flags & HPA_DMA_1G ? 30 : 21, node);
	hpa_stat_add(&hpa_gstats.dma_buffers, 1);
	return hpa_chunk_addr((size_t)idx);
}

static long dma_head(const void *p)
{
	size_t idx;

	if (!hpa_initialized || !hpa_in_arena(p))
		return -1;
	idx = hpa_chunk_index(p);
	if (hpa_arena.map[idx].kind == HPA_CHUNK_TAIL)
		idx = hpa_arena.map[idx].head;
	return hpa_arena.map[idx].kind == HPA_CHUNK_DMA ? (long)idx : -1;
}

HPA_EXPORT int hpa_dma_free(void *p)
{
	long idx = dma_head(p);
	const struct hpa_chunk *c;
	size_t n;
	int err;

	if (idx < 0 || p != hpa_chunk_addr((size_t)idx))
		return -EINVAL;
	c = &hpa_arena.map[idx];
	n = c->nchunks;
	err = hpa_prim->dma_release(p, n << HPA_CHUNK_SHIFT, c->handle);
	hpa_arena_give((size_t)idx, n);
	hpa_stat_add(&hpa_gstats.dma_buffers, -1);
	return err;
}

HPA_EXPORT int hpa_virt2phys(const void *p, uint64_t *phys)
{
	long idx;

	if (!p || !phys)
		return -EINVAL;
	hpa_ensure_init();
	idx = dma_head(p);
	if (idx >= 0)
		return hpa_prim->virt2phys(p, hpa_arena.map[idx].handle,
					   hpa_chunk_addr((size_t)idx), phys);
	if (hpa_in_arena(p)) {
		uint8_t kind = hpa_arena.map[hpa_chunk_index(p)].kind;

		if (kind == HPA_CHUNK_FREE || kind == HPA_CHUNK_POOL ||
		    kind == HPA_CHUNK_CLAIMED)
			return -EFAULT;
	}
	return hpa_prim->virt2phys(p, 0, NULL, phys);
}

/* The DMA buffer that contains ptr: its handle, or -EINVAL. */
static int dma_handle(const void *ptr, uint64_t *handle)
{
	long idx;

	if (!ptr)
		return -EINVAL;
	hpa_ensure_init();
	idx = dma_head(ptr);
	if (idx < 0)
		return -EINVAL;
	*handle = hpa_arena.map[idx].handle;
	return 0;
}

HPA_EXPORT long hpa_dma_pages(const void *ptr, uint64_t *iova, size_t n,
			      size_t *page_size)
{
	struct hpa_dma_query q;
	uint64_t handle;
	int err;

	if ((n && !iova) || dma_handle(ptr, &handle))
		return -EINVAL;
	err = hpa_prim->dma_query(handle, iova, n, &q);
	if (err)
		return err;
	if (page_size)
		*page_size = q.page_size;
	return (long)q.nr_pages;
}

HPA_EXPORT int hpa_dma_nodes(const void *ptr, uint64_t *nodes)
{
	struct hpa_dma_query q;
	uint64_t handle;
	int err;

	if (!nodes || dma_handle(ptr, &handle))
		return -EINVAL;
	err = hpa_prim->dma_query(handle, NULL, 0, &q);
	if (!err)
		*nodes = q.nodes;
	return err;
}

HPA_EXPORT int hpa_dma_fd(const void *ptr, unsigned int flags)
{
	uint64_t handle;

	if (flags & ~HPA_DMA_FD_VALID || dma_handle(ptr, &handle))
		return -EINVAL;
	return hpa_prim->dma_export(handle, flags & HPA_DMA_FD_READONLY);
}

/*
 * The size of a dma-buf is its file's end.  Its page size is not known
 * here: 1 GiB alignment when the size allows a 1 GiB buffer, which suits
 * 2 MiB pages as well.  No hpa_ensure_init(): a process that only maps
 * shared buffers (a DPDK secondary) must not get the allocator's big
 * reservation, which could land where the owner's address is.
 */
HPA_EXPORT void *hpa_dma_map_fd(int fd, void *addr, size_t *size)
{
	size_t len, align;
	long end;
	int err;

	if (fd < 0) {
		errno = EBADF;
		return NULL;
	}
	end = hpa_prim->fd_size(fd);
	if (end < 0) {
		errno = (int)-end;
		return NULL;
	}
	len = (size_t)end;
	if (!len || len % HPA_CHUNK_SIZE) {
		errno = EINVAL;
		return NULL;
	}
	align = len % HPA_GiB ? HPA_CHUNK_SIZE : HPA_GiB;
	if (addr && (uintptr_t)addr % HPA_CHUNK_SIZE) {
		errno = EINVAL;
		return NULL;
	}
	err = hpa_prim->map_fd(fd, addr, len, align, &addr);
	if (err) {
		errno = -err;
		return NULL;
	}
	if (size)
		*size = len;
	return addr;
}

HPA_EXPORT int hpa_dma_unmap_fd(void *addr, size_t size)
{
	if (!addr || (uintptr_t)addr % HPA_CHUNK_SIZE || !size ||
	    hpa_in_arena(addr))
		return -EINVAL;
	return hpa_prim->unmap_fd(addr, size);
}
