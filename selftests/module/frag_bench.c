// SPDX-License-Identifier: GPL-2.0
/*
 * 1 GiB pages after fragmentation, hugetlb or hpalloc (one per freshly
 * booted guest, same script: scripts/frag-bench.sh drives it and makes the
 * table in docs/bench.md).
 *
 *   frag_bench --alloc hugetlb|hpalloc [--node N] [--seed S]
 *
 * 1. fragmented: fill the node with page cache and anonymous memory, free
 *    a random two thirds (hpa_frag.h), count the node's 1 GiB ranges that
 *    hold only free and movable pages, and ask the allocator for as many
 *    1 GiB pages on the node as it can get.  Give them back.
 * 2. cycled: grow the allocator's 2 MiB pages on the node to most of its
 *    free memory, shrink to none, grow again, then ask for 1 GiB pages
 *    again (the rest of the fragmentation still there).
 * One line per phase: "RESULT alloc=... phase=... ..." with the node's
 * free memory after the fragmentation, the movable ranges then, and the
 * pages got.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "hpa_frag.h"

static const char *alloc_name;
static int node = 2;

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fprintf(f, "%ld\n", v) < 0;
	return fclose(f) || ret ? -1 : 0;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* The file that sets how many pages of a size the allocator holds. */
static void pages_file(char *path, size_t len, bool gib)
{
	if (!strcmp(alloc_name, "hugetlb"))
		snprintf(path, len,
			 "/sys/devices/system/node/node%d/hugepages/hugepages-%skB/nr_hugepages",
			 node, gib ? "1048576" : "2048");
	else
		snprintf(path, len, "/sys/kernel/hpalloc/node%d/%s/target",
			 node, gib ? "1G" : "2M");
}

/* Ask for want pages of a size; returns how many the node holds after. */
static long ask(bool gib, long want)
{
	char path[128];

	pages_file(path, sizeof(path), gib);
	if (write_long(path, want))
		fprintf(stderr, "frag_bench: writing %ld to %s failed\n", want,
			path);
	return read_long(path);
}

static void result(const char *phase, long free_kb, long movable,
		   long node_gibs, long got, double secs)
{
	struct utsname u;

	uname(&u);
	printf("RESULT kernel=%s alloc=%s phase=%s node=%d node_gibs=%ld free_mib=%ld movable_gibs=%ld got=%ld secs=%.1f\n",
	       u.release, alloc_name, phase, node, node_gibs, free_kb >> 10,
	       movable, got, secs);
	fflush(stdout);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long free_kb, frag_free_kb, movable, node_gibs = 0, got, most, n2m;
	uint64_t seed = 8;
	struct hpa_frag f;
	char path[128];
	double t;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--alloc") && i + 1 < argc)
			alloc_name = argv[++i];
		else if (!strcmp(argv[i], "--node") && i + 1 < argc)
			node = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else
			alloc_name = NULL, i = argc;
	}
	if (!alloc_name || (strcmp(alloc_name, "hugetlb") &&
			    strcmp(alloc_name, "hpalloc"))) {
		fprintf(stderr,
			"usage: frag_bench --alloc hugetlb|hpalloc [--node N] [--seed S]\n");
		return 2;
	}
	/* where the kernel image sits (physical KASLR moves it per boot) */
	if (system("grep -i 'kernel code' /proc/iomem | sed 's/^ */frag_bench: /'"))
		fprintf(stderr, "frag_bench: no kernel code range in /proc/iomem\n");
	pages_file(path, sizeof(path), true);
	if (access(path, W_OK)) {
		fprintf(stderr, "frag_bench: %s is missing\n", path);
		return 4;
	}

	/* leave 256 MiB free: the node fills, reclaim stays quiet */
	free_kb = hpa_node_free_kb(node);
	ret = hpa_frag_fill(&f, node, (free_kb - (256L << 10)) * 1024, seed);
	if (ret) {
		fprintf(stderr, "frag_bench: fragmenting node%d: %s\n", node,
			strerror(-ret));
		return 1;
	}
	movable = hpa_frag_movable_gibs(node, &node_gibs);
	free_kb = hpa_node_free_kb(node);
	frag_free_kb = free_kb;
	printf("frag_bench: node%d: %zu chunks of 4 MiB filled, a third kept; %ld MiB free, %ld of %ld aligned GiBs movable\n",
	       node, f.nr, free_kb >> 10, movable, node_gibs);
	t = now_s();
	got = ask(true, node_gibs);
	result("fragmented", free_kb, movable, node_gibs, got, now_s() - t);
	ask(true, 0);

	/* the 2 MiB pool cycled: most of the node, none, most again */
	most = (hpa_node_free_kb(node) - (256L << 10)) / 2048;
	n2m = ask(false, most);
	ask(false, 0);
	n2m = ask(false, most);
	free_kb = hpa_node_free_kb(node);
	printf("frag_bench: node%d: 2 MiB pages cycled to %ld (of %ld asked); %ld MiB free\n",
	       node, n2m, most, free_kb >> 10);
	t = now_s();
	got = ask(true, node_gibs);
	/* against the node's free memory before the cycling */
	result("cycled", frag_free_kb, movable, node_gibs, got, now_s() - t);
	ask(true, 0);
	ask(false, 0);
	hpa_frag_release(&f);
	return 0;
}
