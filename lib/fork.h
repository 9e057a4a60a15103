/* SPDX-License-Identifier: MIT */
/*
 * fork() on the device backend (fork.c), what it needs from the pool
 * (pool.c; from the primitive layer it uses the fork ops of struct
 * hpa_prim_ops), and the handlers init.c registers.  Kept out of
 * internal.h: only these three files use it.
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

/* The chunks [idx, idx+n) are now backed as out says (stats follow). */
void hpa_pool_rebackend(size_t idx, size_t n, const struct hpa_commit *out);

#endif
