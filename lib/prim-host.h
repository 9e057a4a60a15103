/* SPDX-License-Identifier: MIT */
/*
 * Between prim.c (the host backends: hugetlb, thp, 4k, and the mappings
 * every backend needs) and the two files that use it, os.c and
 * prim-device.c; nobody else.  Return values: 0 or -errno unless said
 * otherwise.
 */
#ifndef HPA_PRIM_HOST_H
#define HPA_PRIM_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prim.h"

/* prim.h's reserve, meta_map, map_fd, fd_size, unmap_fd, current_node. */
void *hpa_host_reserve(size_t *size, size_t min, size_t align);
void *hpa_host_meta_map(size_t size);
int hpa_host_map_fd(int fd, void *addr, size_t len, size_t align,
		    void **out);
long hpa_host_fd_size(int fd);
int hpa_host_unmap_fd(void *addr, size_t len);
int hpa_host_current_node(void);
/* Online node check (the node list is read by hpa_host_init()). */
bool hpa_host_node_online(int node);
void hpa_host_init(void);
/* Cover [addr, addr+len) with PROT_NONE reservation again. */
int hpa_host_prot_none(void *addr, size_t len);
/*
 * Back [addr, addr+len) with host backend be (not the device) on node,
 * 1 GiB hugetlb pages if use_1g; *shift: the page shift it maps.  On
 * failure the range is PROT_NONE again.
 */
int hpa_host_commit(enum hpa_backend be, void *addr, size_t len,
		    int node, bool use_1g, unsigned int *shift);
/* Move private memory with mremap(MREMAP_DONTUNMAP); -errno: copy. */
int hpa_host_move(void *from, void *to, size_t len);
/* Physical address of p from /proc/self/pagemap (not of PFN mappings). */
int hpa_host_virt2phys(const void *p, uint64_t *phys);
/* Probes (HPALLOC_DEBUG says why not); 1 GiB hugetlb pages too. */
bool hpa_host_probe_hugetlb(void);
bool hpa_host_probe_thp(void);
bool hpa_host_hugetlb_1g(void);
/* prim.h's privatize, with private memory of backend be (thp or 4k). */
int hpa_host_privatize(void *addr, size_t len, int node, bool copy,
		       enum hpa_backend be, struct hpa_commit *out);

#endif
