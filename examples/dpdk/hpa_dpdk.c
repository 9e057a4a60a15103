// SPDX-License-Identifier: MIT
/*
 * hpalloc memory as a DPDK external heap: see hpa_dpdk.h.
 *
 * DPDK cannot find the IOVAs of this memory itself: rte_mem_virt2iova()
 * reads /proc/self/pagemap, which shows no PFN for hpalloc's PFN mappings.
 * So the heap gets the table from hpa_dma_pages() (one ioctl).  The buffer
 * is physically contiguous, which also keeps --no-huge runs right (DPDK
 * then takes any virtually contiguous range for IOVA-contiguous).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hpalloc.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "hpa_dpdk.h"

static int fill_iova(struct hpa_dpdk_heap *h)
{
	unsigned int i;
	long n;

	h->iova = calloc(h->nr_pages, sizeof(*h->iova));
	if (!h->iova)
		return -ENOMEM;
	if (rte_eal_iova_mode() == RTE_IOVA_VA) {
		for (i = 0; i < h->nr_pages; i++)
			h->iova[i] = (uintptr_t)h->va + (size_t)i * h->page_size;
		return 0;
	}
	/* rte_iova_t is a uint64_t: the table is filled in place */
	n = hpa_dma_pages(h->va, (uint64_t *)h->iova, h->nr_pages, NULL);
	if (n < 0)
		return (int)n;
	return n == (long)h->nr_pages ? 0 : -EIO;
}

int hpa_dpdk_heap_add(const char *name, size_t len, int node, int page_1g,
		      struct hpa_dpdk_heap *h)
{
	long n;
	int ret;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	h->primary = 1;
	h->va = hpa_dma_alloc(len, node, page_1g ? HPA_DMA_1G : 0);
	if (!h->va)
		return -errno;
	n = hpa_dma_pages(h->va, NULL, 0, &h->page_size);
	if (n <= 0) {
		ret = n ? (int)n : -EIO;
		goto free_buffer;
	}
	h->nr_pages = (unsigned int)n;
	h->len = (size_t)n * h->page_size;
	ret = hpa_dma_nodes(h->va, &h->nodes);
	if (ret)
		goto free_buffer;
	ret = fill_iova(h);
	if (ret)
		goto free_table;
	h->fd = hpa_dma_fd(h->va, 0);
	if (h->fd < 0) {
		ret = h->fd;
		goto free_table;
	}
	if (rte_malloc_heap_create(name) && rte_errno != EEXIST) {
		ret = -rte_errno;
		goto close_fd;
	}
	if (rte_malloc_heap_memory_add(name, h->va, h->len, h->iova,
				       h->nr_pages, h->page_size)) {
		ret = -rte_errno;
		goto close_fd;
	}
	h->socket_id = rte_malloc_heap_get_socket(name);
	return 0;

close_fd:
	close(h->fd);
	h->fd = -1;
free_table:
	free(h->iova);
	h->iova = NULL;
free_buffer:
	hpa_dma_free(h->va);
	h->va = NULL;
	return ret;
}

int hpa_dpdk_heap_attach(const char *name, int fd, void *va,
			 struct hpa_dpdk_heap *h)
{
	memset(h, 0, sizeof(*h));
	h->fd = fd;
	h->va = hpa_dma_map_fd(fd, va, &h->len);
	if (!h->va)
		return -errno;
	if (rte_malloc_heap_memory_attach(name, h->va, h->len)) {
		int ret = -rte_errno;

		hpa_dma_unmap_fd(h->va, h->len);
		h->va = NULL;
		return ret;
	}
	h->socket_id = rte_malloc_heap_get_socket(name);
	return 0;
}

int hpa_dpdk_heap_release(const char *name, struct hpa_dpdk_heap *h)
{
	int ret = 0;

	if (!h->va)
		return 0;
	if (!h->primary) {
		if (rte_malloc_heap_memory_detach(name, h->va, h->len))
			ret = -rte_errno;
		hpa_dma_unmap_fd(h->va, h->len);
		h->va = NULL;
		return ret;
	}
	if (rte_malloc_heap_memory_remove(name, h->va, h->len))
		return -rte_errno;
	/* EBUSY: others still have memory in it */
	rte_malloc_heap_destroy(name);
	close(h->fd);
	h->fd = -1;
	free(h->iova);
	h->iova = NULL;
	ret = hpa_dma_free(h->va);
	h->va = NULL;
	return ret;
}
