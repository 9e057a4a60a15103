/* SPDX-License-Identifier: MIT */
/*
 * fork() on the device backend (fork.c) and what it needs from the
 * primitive layer (prim.c) and the pool (pool.c), and the handlers init.c
 * registers.  Kept out of internal.h: only these four files use it.
 */
#ifndef HPA_FORK_H
#define HPA_FORK_H

#include "internal.h"

/*
 * The device backend's part of fork, called by init.c's atfork handlers
 * while they hold every allocator lock: prepare makes the snapshot pipe,
 * parent waits until the child made its copy, child makes it.
 */
void hpa_fork_prepare_dev(void);
void hpa_fork_parent_dev(void);
void hpa_fork_child_dev(void);

/* Chunks of heap memory (not DMA buffers) mapped from the device. */
uint64_t hpa_prim_dev_heap_chunks(void);
/* The chunk at addr is heap memory mapped from the device. */
bool hpa_prim_dev_heap(const void *addr);
/*
 * Fork child: replace the device mapping of [addr, addr+len) by private
 * memory at the same address, with a copy of its bytes if copy, on node
 * (-1: any).  The device handles are forgotten, never freed.
 */
int hpa_prim_privatize(void *addr, size_t len, int node, bool copy,
		       struct hpa_commit *out);
/*
 * Fork child, after every heap chunk was privatized: DMA buffers stay
 * shared and their handles become the parent's (never freed here); new
 * memory comes from the next backend.  Returns that backend.
 */
enum hpa_backend hpa_prim_fork_child(void);

/* The chunks [idx, idx+n) are now backed as out says (stats follow). */
void hpa_pool_rebackend(size_t idx, size_t n, const struct hpa_commit *out);

#endif
