// SPDX-License-Identifier: MIT
/*
 * fork() with its normal meaning on the device and hugetlb backends.
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
 * hugetlb memory is MAP_PRIVATE, but its copy on write needs a free huge
 * page for every page written, which a tight pool does not have: the
 * kernel then kills the child with SIGBUS (the parent owns the
 * reservation and keeps its pages).  So the child copies hugetlb chunks
 * the same way, into THP memory; reading them needs no new page.  New
 * memory in the child comes from hugetlb again while the pool has pages.
 *
 * The copy must be a snapshot of the moment of fork: the forking thread in
 * the parent waits in its `parent` handler, holding every allocator lock,
 * until the child says it is done (one byte over a pipe made in `prepare`,
 * or EOF if the child dies).  Other parent threads that neither allocate nor
 * free may still write during the copy (docs/library.md, "fork").
 *
 * init.c's atfork handlers call these: prepare after they took every
 * allocator lock, parent and child before they release them.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fork.h"
#include "internal.h"

static int fork_pipe[2] = { -1, -1 };

static bool hugetlb_mapped(void)
{
	return atomic_load(&hpa_gstats.be_bytes[HPA_BACKEND_HUGETLB]) != 0;
}

void hpa_fork_prepare_dev(void)
{
	fork_pipe[0] = fork_pipe[1] = -1;
	if (!hpa_prim->privatize ||
	    (!hpa_prim->shared_heap_chunks() && !hugetlb_mapped()))
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

static bool chunk_hugetlb(size_t i)
{
	return hpa_arena.map[i].kind != HPA_CHUNK_FREE &&
	       hpa_arena.map[i].backend == HPA_BACKEND_HUGETLB;
}

/* The chunk must not stay shared with (or copy on write from) the parent. */
static bool chunk_private(size_t i)
{
	return hpa_prim->heap_shared(hpa_chunk_addr(i)) || chunk_hugetlb(i);
}

/*
 * Copy a chunk's bytes unless it is free memory in the pool.  A 1 GiB
 * hugetlb page is copied whole: part of it cannot be unmapped.
 */
static bool chunk_needs_copy(size_t i)
{
	return hpa_arena.map[i].kind != HPA_CHUNK_POOL ||
	       (chunk_hugetlb(i) && hpa_arena.map[i].page_shift == 30);
}

static int chunk_node(size_t i)
{
	return hpa_arena.map[i].bound ? hpa_arena.map[i].node : -1;
}

static void privatize_heap(void)
{
	size_t i, j, k, n = hpa_arena.nchunks;
	struct hpa_commit out;
	unsigned int told = 0;
	int err;

	for (i = 0; i < n && (hpa_prim->shared_heap_chunks() ||
			      hugetlb_mapped());
	     i = j) {
		j = i + 1;
		if (!chunk_private(i))
			continue;
		while (j < n && chunk_private(j) &&
		       chunk_needs_copy(j) == chunk_needs_copy(i) &&
		       chunk_node(j) == chunk_node(i))
			j++;
		err = hpa_prim->privatize(hpa_chunk_addr(i), (j - i) <<
					  HPA_CHUNK_SHIFT, chunk_node(i),
					  chunk_needs_copy(i), &out);
		if (err && !hpa_prim->heap_shared(hpa_chunk_addr(i))) {
			/*
			 * hugetlb stays copy on write: that works while the
			 * pool has pages, which beats a certain abort.
			 */
			if (!told++)
				hpa_log("fork: cannot copy %zu MiB of hugetlb "
					"memory into the child (%s): it stays "
					"copy on write, which needs free huge "
					"pages\n", (j - i) << 1,
					strerrordesc_np(-err));
			continue;
		}
		if (err)
			hpa_fatal("fork: cannot copy %zu MiB of device memory "
				  "at %p into the child: %s\n",
				  (j - i) << 1, hpa_chunk_addr(i),
				  strerrordesc_np(-err));
		for (k = i; k < j; k++)
			if (hpa_arena.map[k].backend == HPA_BACKEND_DEVICE ||
			    hpa_arena.map[k].backend == HPA_BACKEND_HUGETLB)
				hpa_pool_rebackend(k, 1, &out);
	}
}

void hpa_fork_child_dev(void)
{
	if (hpa_prim->privatize &&
	    hpa_backend_chosen == HPA_BACKEND_DEVICE) {
		privatize_heap();
		hpa_backend_chosen = hpa_prim->fork_child();
	} else if (hpa_prim->privatize && hugetlb_mapped()) {
		privatize_heap();
	}
	if (fork_pipe[1] >= 0) {
		char c = 1;

		while (write(fork_pipe[1], &c, 1) < 0 && errno == EINTR)
			;
		close(fork_pipe[1]);
		close(fork_pipe[0]);
	}
}
