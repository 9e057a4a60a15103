/* SPDX-License-Identifier: MIT */
/*
 * hpalloc memory as a DPDK external malloc heap (DPDK 22.11).  A small
 * add-on to libhpalloc-user, kept out of it so that the library does not
 * depend on DPDK: build hpa_dpdk.c into the DPDK program.
 *
 * Primary:    hpa_dpdk_heap_add("hpalloc", len, node, &h), then allocate
 *             from socket h.socket_id (rte_pktmbuf_pool_create, rte_malloc
 *             _socket, rte_memzone_reserve).  Send h.fd and h.va to the
 *             secondaries (a UNIX socket with SCM_RIGHTS, rte_mp, or fork).
 * Secondary:  hpa_dpdk_heap_attach("hpalloc", fd, va, &h) after
 *             rte_eal_init(); the memory is mapped at the primary's address.
 */
#ifndef HPA_DPDK_H
#define HPA_DPDK_H

#include <stddef.h>
#include <stdint.h>

#include <rte_common.h>

struct hpa_dpdk_heap {
	void *va;		/* the buffer, here and in every process */
	size_t len;
	size_t page_size;
	unsigned int nr_pages;
	rte_iova_t *iova;	/* per page, as given to DPDK */
	int fd;			/* its dma-buf: what secondaries map */
	int socket_id;		/* DPDK's (synthetic) socket id of the heap */
	uint64_t nodes;		/* NUMA nodes of the pages (bit n: node n) */
	int primary;
};

/*
 * Create heap name (or reuse it) with len bytes of one physically
 * contiguous hpalloc buffer on node (-1: this thread's), 1 GiB pages when
 * page_1g.  IOVAs are physical addresses when DPDK runs in PA mode (needs
 * CAP_SYS_RAWIO), virtual ones in VA mode.  0 or a negative errno.
 */
int hpa_dpdk_heap_add(const char *name, size_t len, int node, int page_1g,
		      struct hpa_dpdk_heap *h);

/* In a secondary: map the primary's buffer from fd at va and attach. */
int hpa_dpdk_heap_attach(const char *name, int fd, void *va,
			 struct hpa_dpdk_heap *h);

/*
 * Undo add (primary: remove the memory, destroy the heap if empty, free
 * the buffer) or attach (secondary: detach, unmap).  Everything allocated
 * from the heap must be freed first.
 */
int hpa_dpdk_heap_release(const char *name, struct hpa_dpdk_heap *h);

#endif /* HPA_DPDK_H */
