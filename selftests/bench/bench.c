// SPDX-License-Identifier: GPL-2.0
/*
 * Allocator benchmarks.  Plain malloc/free/realloc calls, so any allocator
 * can be put under them with LD_PRELOAD (scripts/bench.sh does, for glibc,
 * jemalloc, mimalloc, tcmalloc and hpalloc in one run).  Each workload
 * prints one line "RESULT <name> <value> <unit>" for the driver to parse.
 *
 *   bench larson THREADS SECONDS    server-style: random replace of blocks,
 *                                   arrays handed between threads
 *   bench prodcon SECONDS           producer mallocs, consumer frees
 *   bench mixed THREADS SECONDS     malloc/free loop, sizes 8 B - 4 KiB
 *   bench mixed-ops OPS             the same loop, one thread, a fixed
 *                                   number of malloc/free pairs (for
 *                                   instruction counts under callgrind)
 *   bench tlb GIB UPDATES           random 8-byte updates over a table
 *   bench tlb-hugetlb GIB UPDATES   the same on a raw MAP_HUGETLB mapping
 *   bench grow MAX_BYTES            realloc doubling from 2 MiB to MAX
 *   bench rss                       peak RSS / peak live bytes, mixed sizes
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Mostly small, log-spread sizes in [lo, hi]. */
static inline size_t rnd_size(uint64_t *s, size_t lo, size_t hi)
{
	uint64_t r = rnd(s);
	unsigned int bits = 64 - (unsigned int)__builtin_clzl(hi);
	size_t v = (size_t)(r >> 20) & (((size_t)1 << (1 + r % bits)) - 1);

	return v < lo ? lo : v > hi ? hi : v;
}

static void peak_rss(long *kb)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*kb = ru.ru_maxrss;
}

/* ---- larson ---------------------------------------------------------- */

#define LARSON_SLOTS	1000
static _Atomic int stop;
static _Atomic(void **) larson_swap[64];
static _Atomic uint64_t total_ops;

static void *larson_thread(void *arg)
{
	uint64_t s = (uintptr_t)arg * 7777 + 1, ops = 0;
	void **slots = calloc(LARSON_SLOTS, sizeof(void *));
	int i;

	for (i = 0; i < LARSON_SLOTS; i++)
		slots[i] = malloc(rnd_size(&s, 8, 1024));
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (i = 0; i < 1000; i++) {
			unsigned int k = (unsigned int)(rnd(&s) % LARSON_SLOTS);
			size_t sz = rnd_size(&s, 8, 1024);

			free(slots[k]);
			slots[k] = malloc(sz);
			((char *)slots[k])[0] = (char)sz;
		}
		ops += 1000;
		/* Hand the array to another thread: its blocks die there. */
		slots = atomic_exchange(&larson_swap[rnd(&s) % 64], slots);
		if (!slots) {
			slots = calloc(LARSON_SLOTS, sizeof(void *));
			for (i = 0; i < LARSON_SLOTS; i++)
				slots[i] = malloc(rnd_size(&s, 8, 1024));
		}
	}
	atomic_fetch_add(&total_ops, ops);
	return slots;
}

static int run_threads(void *(*fn)(void *), int n, double secs)
{
	pthread_t t[64];
	double t0 = now();
	int i;

	atomic_store(&stop, 0);
	atomic_store(&total_ops, 0);
	for (i = 0; i < n; i++)
		pthread_create(&t[i], NULL, fn, (void *)(uintptr_t)(i + 1));
	usleep((useconds_t)(secs * 1e6));
	atomic_store(&stop, 1);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return printf("RESULT ops %.0f ops/s\n",
		      (double)atomic_load(&total_ops) / (now() - t0)) < 0;
}

/* ---- producer / consumer -------------------------------------------- */

#define RING	4096
static _Atomic(void *) ring[RING];

static void *producer(void *arg)
{
	uint64_t s = 99, ops = 0, i = 0;

	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		void *p = malloc(rnd_size(&s, 8, 512));

		((char *)p)[0] = 1;
		while (atomic_load_explicit(&ring[i % RING],
					    memory_order_acquire)) {
			if (atomic_load_explicit(&stop, memory_order_relaxed)) {
				free(p);
				goto out;
			}
		}
		atomic_store_explicit(&ring[i % RING], p, memory_order_release);
		i++;
		ops++;
	}
out:
	atomic_fetch_add(&total_ops, ops);
	return NULL;
}

static void *consumer(void *arg)
{
	uint64_t i = 0;

	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		void *p = atomic_exchange_explicit(&ring[i % RING], NULL,
						   memory_order_acquire);

		if (!p)
			continue;
		free(p);
		i++;
	}
	return NULL;
}

static void *prodcon_thread(void *arg)
{
	return (uintptr_t)arg == 1 ? producer(arg) : consumer(arg);
}

/* ---- mixed small loop ----------------------------------------------- */

static uint64_t mixed_max_ops;	/* 0: until stop */

static void *mixed_thread(void *arg)
{
	enum { SLOTS = 2000 };
	void *slots[SLOTS] = { 0 };
	uint64_t s = (uintptr_t)arg * 31 + 5, ops = 0;
	int i;

	while (!atomic_load_explicit(&stop, memory_order_relaxed) &&
	       (!mixed_max_ops || ops < mixed_max_ops)) {
		for (i = 0; i < 1000; i++) {
			unsigned int k = (unsigned int)(rnd(&s) % SLOTS);

			free(slots[k]);
			slots[k] = malloc(rnd_size(&s, 8, 4096));
			((char *)slots[k])[0] = 0;
		}
		ops += 1000;
	}
	for (i = 0; i < SLOTS; i++)
		free(slots[i]);
	atomic_fetch_add(&total_ops, ops);
	return NULL;
}

/* ---- TLB-bound random updates --------------------------------------- */

static int tlb(size_t gib, long updates, int raw_hugetlb)
{
	size_t len = gib << 30, n = len / 8, i;
	uint64_t *t, s = 12345, sum = 0;
	double t0, t1, t2, best;
	int pass;
	long rss;

	t0 = now();
	if (raw_hugetlb) {
		t = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
			 MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (t == MAP_FAILED) {
			perror("mmap(MAP_HUGETLB)");
			return 1;
		}
	} else {
		t = malloc(len);
		if (!t) {
			perror("malloc");
			return 1;
		}
	}
	for (i = 0; i < n; i += 512)
		t[i] = i;
	t1 = now();
	/*
	 * Best of three passes (a shared machine adds noise).  Multiply-shift
	 * range reduction: a division would cost more than the TLB miss this
	 * measures.
	 */
	best = 1e9;
	for (pass = 0; pass < 3; pass++) {
		double p0 = now();

		for (i = 0; i < (size_t)updates; i++)
			t[(size_t)(((unsigned __int128)rnd(&s) * n) >> 64)] += i;
		if (now() - p0 < best)
			best = now() - p0;
	}
	t2 = t1 + best;
	for (i = 0; i < n; i += 4099)
		sum += t[i];
	peak_rss(&rss);
	printf("RESULT fill %.3f s\n", t1 - t0);
	printf("RESULT update %.2f ns\n", (t2 - t1) * 1e9 / (double)updates);
	printf("# checksum %llu rss %ld kB\n", (unsigned long long)sum, rss);
	return 0;
}

/* ---- realloc growth ------------------------------------------------- */

static int grow(size_t max)
{
	size_t size = 2 << 20, i;
	char *p = malloc(size);
	double in_realloc = 0, t0 = now(), t;
	long rss;

	for (i = 0; i < size; i += 4096)
		p[i] = (char)i;
	while (size < max) {
		size_t old = size;

		size *= 2;
		t = now();
		p = realloc(p, size);
		in_realloc += now() - t;
		if (!p) {
			perror("realloc");
			return 1;
		}
		for (i = 0; i < old; i += 1 << 20)
			if (p[i] != (char)i)
				return 1;
		for (i = old; i < size; i += 4096)
			p[i] = (char)i;
	}
	peak_rss(&rss);
	printf("RESULT realloc %.3f s\n", in_realloc);
	printf("RESULT total %.3f s\n", now() - t0);
	printf("RESULT peak_rss_over_final %.4f x\n",
	       (double)rss * 1024 / (double)size);
	free(p);
	return 0;
}

/* ---- memory efficiency ---------------------------------------------- */

static int rss_ratio(void)
{
	enum { SLOTS = 200000 };
	static void *slots[SLOTS];
	static size_t sizes[SLOTS];
	uint64_t s = 4242;
	size_t live = 0, peak_live = 0;
	long rss, i;

	for (i = 0; i < 6000000; i++) {
		unsigned int k = (unsigned int)(rnd(&s) % SLOTS);
		size_t sz;

		if (slots[k]) {
			free(slots[k]);
			live -= sizes[k];
		}
		/* 90% small, 9% up to 64 KiB, 1% up to 1 MiB */
		sz = rnd(&s) % 100 < 90 ? rnd_size(&s, 8, 512) :
		     rnd(&s) % 10 ? rnd_size(&s, 513, 65536) :
		     rnd_size(&s, 65537, 1 << 20);
		slots[k] = malloc(sz);
		memset(slots[k], 1, sz);
		sizes[k] = sz;
		live += sz;
		if (live > peak_live)
			peak_live = live;
	}
	peak_rss(&rss);
	printf("RESULT rss_over_live %.3f x\n",
	       (double)rss * 1024 / (double)peak_live);
	printf("# peak live %zu MiB, peak rss %ld MiB\n", peak_live >> 20,
	       rss >> 10);
	return 0;
}

int main(int argc, char **argv)
{
	const char *w = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(w, "larson") && argc == 4)
		return run_threads(larson_thread, atoi(argv[2]), atof(argv[3]));
	if (!strcmp(w, "prodcon") && argc == 3)
		return run_threads(prodcon_thread, 2, atof(argv[2]));
	if (!strcmp(w, "mixed") && argc == 4)
		return run_threads(mixed_thread, atoi(argv[2]), atof(argv[3]));
	if (!strcmp(w, "mixed-ops") && argc == 3) {
		mixed_max_ops = strtoull(argv[2], NULL, 0);
		mixed_thread((void *)(uintptr_t)1);
		return printf("RESULT ops %llu ops\n",
			      (unsigned long long)atomic_load(&total_ops)) < 0;
	}
	if (!strcmp(w, "tlb") && argc == 4)
		return tlb(strtoul(argv[2], NULL, 0), atol(argv[3]), 0);
	if (!strcmp(w, "tlb-hugetlb") && argc == 4)
		return tlb(strtoul(argv[2], NULL, 0), atol(argv[3]), 1);
	if (!strcmp(w, "grow") && argc == 3)
		return grow(strtoull(argv[2], NULL, 0));
	if (!strcmp(w, "rss") && argc == 2)
		return rss_ratio();
	fprintf(stderr, "usage: see the comment at the top of bench.c\n");
	return 2;
}
