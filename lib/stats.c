// SPDX-License-Identifier: MIT
/*
 * hpa_stats: global counters (relaxed atomics) plus the sum of every heap's
 * per-class counters, which their owners write without locks.  Also the
 * human-readable summary (HPALLOC_STATS=1 at exit, malloc_stats) and
 * malloc_info's XML, both formatted on the stack and written with write():
 * they run at exit and inside malloc_stats, where allocating is unwelcome.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/*
 * struct hpa_stats as released in HPALLOC_1: a change here moves fields
 * under programs built against it.  Grow it only at its end.
 */
_Static_assert(HPA_BACKEND_MAX <= HPA_STATS_MAX_BACKENDS,
	       "a new backend needs a new per-backend array at the end");
_Static_assert(offsetof(struct hpa_stats, node_bytes) == 104 &&
	       offsetof(struct hpa_stats, per_backend) == 168 &&
	       offsetof(struct hpa_stats, per_class) == 264 &&
	       sizeof(struct hpa_stats) == 1800,
	       "struct hpa_stats moved: its layout is ABI");

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

/* ---- the summary ------------------------------------------------------ */

static void out(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void out(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	if (n > 0 && write(fd, buf, (size_t)n) < 0)
		return;
}

/* Bytes as "12.5 MiB", "300 KiB", "17 B". */
static const char *human(char *buf, size_t len, uint64_t v)
{
	if (v >= HPA_GiB)
		snprintf(buf, len, "%.1f GiB", (double)v / HPA_GiB);
	else if (v >= HPA_MiB)
		snprintf(buf, len, "%.1f MiB", (double)v / HPA_MiB);
	else if (v >= HPA_KiB)
		snprintf(buf, len, "%.1f KiB", (double)v / HPA_KiB);
	else
		snprintf(buf, len, "%llu B", (unsigned long long)v);
	return buf;
}

#define H(i, v)	human(hb[i], sizeof(hb[i]), (v))

/* "size:blocks in use/pages" for each class in use, a few per line. */
static void print_classes(int fd, const struct hpa_stats *st)
{
	char line[160];
	size_t n = 0;
	unsigned int i;

	for (i = 0; i < HPA_STATS_MAX_CLASSES; i++) {
		const struct hpa_class_stats *c = &st->per_class[i];
		char item[64];

		if (!c->pages && !c->blocks_in_use)
			continue;
		snprintf(item, sizeof(item), " %llu:%llu/%llu",
			 (unsigned long long)c->block_size,
			 (unsigned long long)c->blocks_in_use,
			 (unsigned long long)c->pages);
		if (n && n + strlen(item) > 72) {
			out(fd, "hpalloc: stats: classes%s\n", line);
			n = 0;
		}
		memcpy(line + n, item, strlen(item) + 1);
		n += strlen(item);
	}
	if (n)
		out(fd, "hpalloc: stats: classes%s\n", line);
}

void hpa_stats_print(int fd)
{
	struct hpa_stats st = { .size = sizeof(st) };
	struct hpa_backed bk;
	char hb[4][24];
	unsigned int i;
	int err;

	if (hpa_stats(&st))
		return;
	out(fd, "hpalloc: stats: backend %s, %s of address space reserved\n",
	    hpa_backend_name(st.backend), H(0, st.reserved_bytes));
	out(fd, "hpalloc: stats: mapped %s, in use %s (block sizes), retained %s, "
	    "%llu segments\n", H(0, st.bytes_mapped), H(1, st.bytes_in_use),
	    H(2, st.bytes_retained), (unsigned long long)st.segments);
	for (i = 0; i < HPA_BACKEND_MAX; i++) {
		const struct hpa_backend_stats *b = &st.per_backend[i];

		if (!b->maps && !b->map_failures && !b->bytes_mapped)
			continue;
		out(fd, "hpalloc: stats:   %-7s %s mapped now, %llu maps, "
		    "%llu failed\n", hpa_backend_name(i), H(0, b->bytes_mapped),
		    (unsigned long long)b->maps,
		    (unsigned long long)b->map_failures);
	}
	out(fd, "hpalloc: stats: huge pages asked for: %llu of 2 MiB, %llu "
	    "of 1 GiB; fallbacks to a worse backend: %llu\n",
	    (unsigned long long)st.huge_pages_2m,
	    (unsigned long long)st.huge_pages_1g,
	    (unsigned long long)st.fallbacks);
	err = hpa_prim_backed(hpa_arena.base, hpa_arena.size, &bk);
	if (err)
		out(fd, "hpalloc: stats: backed: /proc/self/smaps: %s\n",
		    strerrordesc_np(-err));
	else
		out(fd, "hpalloc: stats: backed (smaps): resident %s, on THP "
		    "%s, on hugetlb %s%s\n", H(0, bk.rss), H(1, bk.anon_huge),
		    H(2, bk.hugetlb),
		    st.per_backend[HPA_BACKEND_DEVICE].bytes_mapped ?
		    " (device pages are not in smaps)" : "");
	out(fd, "hpalloc: stats: realloc: %llu in place, %llu remapped, "
	    "%llu copied; %llu DMA buffers\n",
	    (unsigned long long)st.realloc_in_place,
	    (unsigned long long)st.realloc_remaps,
	    (unsigned long long)st.realloc_copies,
	    (unsigned long long)st.dma_buffers);
	print_classes(fd, &st);
}

int hpa_stats_print_xml(int fd)
{
	struct hpa_stats st = { .size = sizeof(st) };
	unsigned int i;

	if (hpa_stats(&st))
		return -EINVAL;
	out(fd, "<malloc version=\"hpalloc-1\">\n"
	    "<backend name=\"%s\"/>\n", hpa_backend_name(st.backend));
	for (i = 0; i < HPA_STATS_MAX_CLASSES; i++) {
		const struct hpa_class_stats *c = &st.per_class[i];

		if (!c->pages && !c->blocks_in_use)
			continue;
		out(fd, "<size from=\"%llu\" to=\"%llu\" in_use=\"%llu\" "
		    "pages=\"%llu\"/>\n",
		    (unsigned long long)(i ? st.per_class[i - 1].block_size + 1 :
					 1),
		    (unsigned long long)c->block_size,
		    (unsigned long long)c->blocks_in_use,
		    (unsigned long long)c->pages);
	}
	out(fd, "<total type=\"mapped\" size=\"%llu\"/>\n"
	    "<total type=\"in_use\" size=\"%llu\"/>\n"
	    "<total type=\"retained\" size=\"%llu\"/>\n"
	    "<total type=\"fallbacks\" count=\"%llu\"/>\n</malloc>\n",
	    (unsigned long long)st.bytes_mapped,
	    (unsigned long long)st.bytes_in_use,
	    (unsigned long long)st.bytes_retained,
	    (unsigned long long)st.fallbacks);
	return 0;
}

/*
 * HPALLOC_STATS=1: the summary on stderr when the program exits.  stderr is
 * duplicated at start-up: many programs close it before they exit (GNU
 * coreutils' close_stdout does).
 */
static int stats_fd = -1;

void hpa_stats_init(void)
{
	if (hpa_option_int(HPA_OPT_STATS))
		stats_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 10);
}

__attribute__((destructor)) static void stats_at_exit(void)
{
	if (atomic_load(&hpa_initialized) && stats_fd >= 0)
		hpa_stats_print(stats_fd);
}
