// SPDX-License-Identifier: MIT
/*
 * fork() with its normal meaning on the device backend.
 *
 * Device pages can only be mapped MAP_SHARED (PFN mappings have no copy on
 * write), so after a plain fork() parent and child would share every heap
 * byte.  The child's atfork handler therefore replaces each device-backed
 * heap chunk by private memory at the same address: a copy of its bytes
 * (free pool chunks just get zero memory), made in a temporary anonymous
 * mapping and moved over the range with mremap(MREMAP_FIXED), which swaps
 * the mapping in one step.  The child then forgets the device handles (they
 * belong to the open file it shares with the parent: freeing one would take
 * the parent's buffer away) and allocates from the next backend.  DMA
 * buffers stay shared: they exist for the device, which sees one buffer.
 *
 * The copy must be a snapshot of the moment of fork: the forking thread in
 * the parent waits in its `parent` handler, holding every allocator lock,
 * until the child says it is done (one byte over a pipe made in `prepare`,
 * or EOF if the child dies).  Other parent threads that neither allocate nor
 * free may still write during the copy (docs/library.md, "fork").
 *
 * alloc.c's atfork handlers call these: prepare after they took every
 * allocator lock, parent and child before they release them.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fork.h"
#include "internal.h"

static int fork_pipe[2] = { -1, -1 };

void hpa_fork_prepare_dev(void)
{
	fork_pipe[0] = fork_pipe[1] = -1;
	if (hpa_prim != &hpa_prim_os || !hpa_prim_dev_heap_chunks())
		return;
	/* Without a pipe the child still copies, only not as a snapshot. */
	if (pipe2(fork_pipe, O_CLOEXEC))
		fork_pipe[0] = fork_pipe[1] = -1;
}

void hpa_fork_parent_dev(void)
{
	char c;

	if (fork_pipe[0] < 0)
		return;
	close(fork_pipe[1]);
	while (read(fork_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	close(fork_pipe[0]);
}

/* Copy a chunk's bytes unless it is free memory in the pool. */
static bool chunk_needs_copy(size_t i)
{
	return hpa_arena.map[i].kind != HPA_CHUNK_POOL;
}

static int chunk_node(size_t i)
{
	return hpa_arena.map[i].bound ? hpa_arena.map[i].node : -1;
}

static void privatize_heap(void)
{
	size_t i, j, k, n = hpa_arena.nchunks;
	struct hpa_commit out;
	int err;

	for (i = 0; i < n && hpa_prim_dev_heap_chunks(); i = j) {
		j = i + 1;
		if (!hpa_prim_dev_heap(hpa_chunk_addr(i)))
			continue;
		while (j < n && hpa_prim_dev_heap(hpa_chunk_addr(j)) &&
		       chunk_needs_copy(j) == chunk_needs_copy(i) &&
		       chunk_node(j) == chunk_node(i))
			j++;
		err = hpa_prim_privatize(hpa_chunk_addr(i), (j - i) <<
					 HPA_CHUNK_SHIFT, chunk_node(i),
					 chunk_needs_copy(i), &out);
		if (err)
			hpa_fatal("fork: cannot copy %zu MiB of device memory "
				  "at %p into the child: %s\n",
				  (j - i) << 1, hpa_chunk_addr(i),
				  strerrordesc_np(-err));
		for (k = i; k < j; k++)
			if (hpa_arena.map[k].backend == HPA_BACKEND_DEVICE)
				hpa_pool_rebackend(k, 1, &out);
	}
}

void hpa_fork_child_dev(void)
{
	if (hpa_prim == &hpa_prim_os && hpa_backend_chosen ==
	    HPA_BACKEND_DEVICE) {
		privatize_heap();
		hpa_backend_chosen = hpa_prim_fork_child();
	}
	if (fork_pipe[1] >= 0) {
		char c = 1;

		while (write(fork_pipe[1], &c, 1) < 0 && errno == EINTR)
			;
		close(fork_pipe[1]);
		close(fork_pipe[0]);
	}
}
