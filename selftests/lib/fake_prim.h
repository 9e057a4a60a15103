/* SPDX-License-Identifier: GPL-2.0 */
/* The fake primitive layer (fake_prim.c) that unit tests put under the
 * allocator instead of the OS. */
#ifndef FAKE_PRIM_H
#define FAKE_PRIM_H

#include "internal.h"

struct fake_prim_state {
	enum hpa_backend backend;	/* what init() reports */
	long commits, decommits, moves, dma_commits;
	long small_commits;		/* with HPA_COMMIT_SMALL: 4 KiB pages */
	uint64_t commit_bytes;		/* bytes of all commits */
	long fail_commits;		/* >0: fail that many commits next */
	long fail_after;		/* ... after this many more succeed */
	bool move_ok;			/* move() supported */
	bool dma_ok;			/* dma_commit() supported */
	bool has_1g;
	bool report_fallback;		/* commits say a better backend failed */
	int node;			/* current_node() */
	uint64_t online;		/* node_online() mask */
	int last_node;			/* node of the last commit */
	long errors;			/* misuse seen: double commit etc. */
	size_t reserve_cap;		/* cap on reserve() */
	/*
	 * fork: heap chunks committed while backend is DEVICE count as
	 * shared with a parent, like device pages (not DMA buffers, not
	 * HPA_COMMIT_SMALL commits); privatize() makes them private again.
	 */
	long privatized;		/* chunks privatize() replaced */
	long privatize_zeroed;		/* of those, given zeroes (no copy) */
	long fork_children;		/* fork_child() calls */
};

extern struct fake_prim_state fake;
/* Put the fake under the allocator; before the first allocation. */
void fake_install(void);
/* Is the chunk at addr committed (per the fake)? */
bool fake_committed(const void *addr);
/* Heap chunks a forked child would share with its parent now. */
long fake_shared_chunks(void);

#endif
