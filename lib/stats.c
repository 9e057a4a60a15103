// SPDX-License-Identifier: MIT
/*
 * hpa_stats: global counters (relaxed atomics) plus the sum of every heap's
 * per-class counters, which their owners write without locks.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

struct hpa_global_stats hpa_gstats;

HPA_EXPORT int hpa_stats(struct hpa_stats *user)
{
	struct hpa_stats st;
	struct hpa_heap *h;
	unsigned int c, i;
	size_t n;

	if (!user || user->size < offsetof(struct hpa_stats, reserved_bytes))
		return -EINVAL;
	hpa_ensure_init();
	memset(&st, 0, sizeof(st));
	st.size = user->size < sizeof(st) ? user->size : sizeof(st);
	st.backend = hpa_backend_chosen;
	st.reserved_bytes = hpa_arena.size;
	st.bytes_mapped = atomic_load(&hpa_gstats.bytes_mapped);
	hpa_pool_stats(&st.bytes_retained);
	st.huge_pages_2m = atomic_load(&hpa_gstats.pages_2m);
	st.huge_pages_1g = atomic_load(&hpa_gstats.pages_1g);
	st.fallbacks = atomic_load(&hpa_gstats.fallbacks);
	st.realloc_remaps = atomic_load(&hpa_gstats.realloc_remaps);
	st.realloc_in_place = atomic_load(&hpa_gstats.realloc_in_place);
	st.realloc_copies = atomic_load(&hpa_gstats.realloc_copies);
	st.dma_buffers = atomic_load(&hpa_gstats.dma_buffers);
	for (i = 0; i < HPA_STATS_MAX_NODES; i++)
		st.node_bytes[i] = atomic_load(&hpa_gstats.node_bytes[i]);
	for (i = 0; i < HPA_BACKEND_MAX; i++) {
		st.per_backend[i].bytes_mapped =
			atomic_load(&hpa_gstats.be_bytes[i]);
		st.per_backend[i].maps = atomic_load(&hpa_gstats.be_maps[i]);
		st.per_backend[i].map_failures =
			atomic_load(&hpa_gstats.be_fail[i]);
	}
	for (c = 0; c < HPA_NCLASSES && c < HPA_STATS_MAX_CLASSES; c++)
		st.per_class[c].block_size = hpa_classes[c].size;
	hpa_lock(&hpa_heaps_lock);
	for (h = hpa_all_heaps; h; h = h->next_all) {
		st.segments += atomic_load_explicit(&h->nsegments,
						    memory_order_relaxed);
		for (c = 0; c < HPA_NCLASSES && c < HPA_STATS_MAX_CLASSES; c++) {
			/* Blocks in a free cache are out of the bitmap. */
			st.per_class[c].blocks_in_use += atomic_load_explicit(
				&h->cls[c].in_use, memory_order_relaxed) -
				(h->cls[c].cache_max - atomic_load_explicit(
					&h->cls[c].cache_room,
					memory_order_relaxed));
			st.per_class[c].pages += atomic_load_explicit(
				&h->cls[c].pages, memory_order_relaxed);
		}
	}
	hpa_unlock(&hpa_heaps_lock);
	for (c = 0; c < HPA_NCLASSES && c < HPA_STATS_MAX_CLASSES; c++)
		st.bytes_in_use += st.per_class[c].blocks_in_use *
				   st.per_class[c].block_size;
	st.bytes_in_use += atomic_load(&hpa_gstats.huge_in_use);
	n = st.size;
	memcpy(user, &st, n);
	user->size = (uint32_t)n;
	return 0;
}
