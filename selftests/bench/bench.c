// SPDX-License-Identifier: GPL-2.0
/*
 * Allocator benchmarks.  Plain malloc/free/realloc calls, so any allocator
 * can be put under them with LD_PRELOAD (scripts/bench.sh does, for glibc,
 * jemalloc, mimalloc, tcmalloc and hpalloc in one run).  Each workload
 * prints one line "RESULT <name> <value> <unit>" for the driver to parse.
 *
 *   bench larson THREADS SECONDS    server-style: random replace of blocks,
 *                                   arrays handed between threads
 *   bench larson-sized THREADS SECONDS  the same through C++'s operator new
 *                                   and sized operator delete
 *   bench prodcon SECONDS           producer mallocs, consumer frees
 *   bench mixed THREADS SECONDS     malloc/free loop, sizes 8 B - 4 KiB
 *   bench churn THREADS SECONDS     thread-local churn: random sizes
 *                                   16-256 B over 256 live blocks
 *   bench bursts THREADS SECONDS    alloc-test shape: bursts of up to 2000
 *                                   mixed-size blocks, then freed
 *   bench rptest THREADS SECONDS    random sizes 16 B - 64 KiB, a quarter
 *                                   of them freed by the next thread
 *   bench batches SECONDS           glibc-simple shape: one thread, 1000
 *                                   blocks of one size, then all freed
 *   bench large SECONDS             5 - 25 MiB blocks, 20 live, each
 *                                   zeroed with memset (as C++'s
 *                                   make_unique<char[]> does), freed in a
 *                                   loop (mimalloc-bench's malloc-large)
 *   bench big SECONDS               256 KiB - 8 MiB blocks, 4 live, every
 *                                   4 KiB page written, freed in a loop
 *   bench mixed-ops OPS             the mixed loop, one thread, a fixed
 *                                   number of malloc/free pairs (for
 *                                   instruction counts under callgrind)
 *   bench SHAPE-ops THREADS OPS     any shape above with a fixed number of
 *                                   malloc/free pairs per thread instead
 *                                   of a time (for callgrind)
 *   bench SHAPE-work THREADS OPS    the same, timed: the rate of a fixed
 *                                   amount of work (large-work 1 2000 is
 *                                   mimalloc-bench's malloc-large run)
 *
 * Timed shapes print "RESULT ops N ops/s" (a malloc/free pair is one op)
 * and "RESULT rss N kB" (peak RSS of the process).
 *   bench tlb GIB UPDATES           random 8-byte updates over a table
 *   bench tlb-hugetlb GIB UPDATES   the same on a raw MAP_HUGETLB mapping
 *   bench grow MAX_BYTES            realloc doubling from 2 MiB to MAX
 *   bench rss                       peak RSS / peak live bytes, mixed sizes
 *   bench warm MIB                  touch MIB MiB of THP memory outside the
 *                                   allocator and unmap it (see warm())
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
	long rss;

	printf("RESULT ops %.0f ops/s\n",
	       (double)atomic_load(&total_ops) / (now() - t0));
	peak_rss(&rss);
	return printf("RESULT rss %ld kB\n", rss) < 0;
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


/* ---- more shapes: C++ sized larson, churn, bursts, rptest, batches ---- */

/*
 * The C++ operators, called by their ABI names so that this C program
 * allocates the way a C++ server does (link with -lstdc++).
 */
void *_Znwm(size_t size);
void _ZdlPvm(void *p, size_t size);

static uint64_t shape_max_ops;	/* 0: until stop */

static inline int shape_done(uint64_t ops)
{
	return atomic_load_explicit(&stop, memory_order_relaxed) ||
	       (shape_max_ops && ops >= shape_max_ops);
}

static void *larson_sized_thread(void *arg)
{
	uint64_t s = (uintptr_t)arg * 7777 + 1, ops = 0;
	void **slots = calloc(LARSON_SLOTS, sizeof(void *));
	uint16_t *sizes = calloc(LARSON_SLOTS, sizeof(uint16_t));
	int i;

	for (i = 0; i < LARSON_SLOTS; i++) {
		sizes[i] = (uint16_t)rnd_size(&s, 8, 1024);
		slots[i] = _Znwm(sizes[i]);
	}
	while (!shape_done(ops)) {
		for (i = 0; i < 1000; i++) {
			unsigned int k = (unsigned int)(rnd(&s) % LARSON_SLOTS);
			size_t sz = rnd_size(&s, 8, 1024);

			_ZdlPvm(slots[k], sizes[k]);
			slots[k] = _Znwm(sz);
			sizes[k] = (uint16_t)sz;
			((char *)slots[k])[0] = (char)sz;
		}
		ops += 1000;
	}
	for (i = 0; i < LARSON_SLOTS; i++)
		_ZdlPvm(slots[i], sizes[i]);
	free(slots);
	free(sizes);
	atomic_fetch_add(&total_ops, ops);
	return NULL;
}

static void *churn_thread(void *arg)
{
	enum { SLOTS = 256 };
	void *slots[SLOTS] = { 0 };
	uint64_t s = (uintptr_t)arg * 131 + 7, ops = 0;
	int i;

	while (!shape_done(ops)) {
		for (i = 0; i < 1000; i++) {
			uint64_t r = rnd(&s);
			unsigned int k = (unsigned int)(r % SLOTS);

			free(slots[k]);
			slots[k] = malloc(16 + (size_t)((r >> 32) % 241));
			((char *)slots[k])[0] = (char)i;
		}
		ops += 1000;
	}
	for (i = 0; i < SLOTS; i++)
		free(slots[i]);
	atomic_fetch_add(&total_ops, ops);
	return NULL;
}

static void *bursts_thread(void *arg)
{
	enum { MAXB = 2000 };
	static __thread void *b[MAXB];
	uint64_t s = (uintptr_t)arg * 1009 + 3, ops = 0;
	unsigned int n, i;

	while (!shape_done(ops)) {
		n = 1 + (unsigned int)(rnd(&s) % MAXB);
		for (i = 0; i < n; i++) {
			/* mostly small, some up to 8 KiB, a few up to 64 KiB */
			uint64_t r = rnd(&s);
			size_t sz = r % 16 ? rnd_size(&s, 8, 512) :
				    r % 64 ? rnd_size(&s, 513, 8192) :
				    rnd_size(&s, 8193, 65536);

			b[i] = malloc(sz);
			((char *)b[i])[0] = (char)i;
		}
		/* half the bursts die in order, half in reverse */
		if (n & 1)
			for (i = 0; i < n; i++)
				free(b[i]);
		else
			for (i = n; i-- > 0;)
				free(b[i]);
		ops += n;
	}
	atomic_fetch_add(&total_ops, ops);
	return NULL;
}

/*
 * rptest shape: each thread replaces random slots of its own array with
 * blocks of random size; a quarter of the blocks it takes out go to the
 * next thread's mailbox and are freed there.
 */
#define RP_SLOTS	4096
#define RP_MAIL		256
struct rp_mailbox {
	_Atomic(void *) box[RP_MAIL];
} __attribute__((aligned(64)));
static struct rp_mailbox rp_mail[64];
static int rp_threads;

static void *rptest_thread(void *arg)
{
	unsigned int me = (unsigned int)(uintptr_t)arg - 1, i, next;
	void **slots = calloc(RP_SLOTS, sizeof(void *));
	uint64_t s = (uintptr_t)arg * 4243 + 11, ops = 0;

	next = (me + 1) % (unsigned int)rp_threads;
	while (!shape_done(ops)) {
		for (i = 0; i < 1000; i++) {
			uint64_t r = rnd(&s);
			unsigned int k = (unsigned int)(r % RP_SLOTS);
			unsigned int m = (unsigned int)((r >> 20) % RP_MAIL);
			void *old = slots[k];

			/* Blocks sent here by the previous thread die here. */
			free(atomic_exchange_explicit(&rp_mail[me].box[m],
					NULL, memory_order_acquire));
			if (old && rp_threads > 1 && (r >> 40) % 4 == 0)
				old = atomic_exchange_explicit(
					&rp_mail[next].box[m], old,
					memory_order_acq_rel);
			free(old);
			slots[k] = malloc(rnd_size(&s, 16, 65536));
			((char *)slots[k])[0] = (char)i;
		}
		ops += 1000;
	}
	for (i = 0; i < RP_SLOTS; i++)
		free(slots[i]);
	free(slots);
	atomic_fetch_add(&total_ops, ops);
	return NULL;
}

static void *batches_thread(void *arg)
{
	enum { BATCH = 1000 };
	static void *b[BATCH];
	static const size_t sizes[] = { 16, 24, 32, 48, 64, 96, 128, 256 };
	uint64_t ops = 0, round = 0;
	unsigned int i;

	(void)arg;
	while (!shape_done(ops)) {
		size_t sz = sizes[round++ % 8];

		for (i = 0; i < BATCH; i++) {
			b[i] = malloc(sz);
			((char *)b[i])[0] = (char)i;
		}
		for (i = 0; i < BATCH; i++)
			free(b[i]);
		ops += BATCH;
	}
	atomic_fetch_add(&total_ops, ops);
	return NULL;
}

/*
 * Big blocks replaced at random in a loop: live of them, sizes lo to
 * lo + span, each written every 4 KiB or zeroed whole.
 */
struct big_loop {
	unsigned int live;
	size_t lo, span;
	int zero;
	uint64_t seed;
};

/*
 * Called through a volatile pointer: the compiler would otherwise turn
 * malloc and memset to 0 into calloc, which may skip the zeroing of fresh
 * pages (a C++ new followed by value-initialisation zeroes them).
 */
static void *(*volatile zero_fill)(void *, int, size_t) = memset;

static void big_loop_run(const struct big_loop *b)
{
	void *live[32] = { 0 };
	uint64_t s = b->seed, ops = 0;
	size_t i;

	while (!shape_done(ops)) {
		unsigned int k = (unsigned int)(rnd(&s) % b->live);
		size_t sz = b->lo + (size_t)(rnd(&s) % b->span);

		free(live[k]);
		live[k] = malloc(sz);
		if (b->zero)
			zero_fill(live[k], 0, sz);
		else
			for (i = 0; i < sz; i += 4096)
				((char *)live[k])[i] = (char)i;
		ops++;
	}
	for (i = 0; i < b->live; i++)
		free(live[i]);
	atomic_fetch_add(&total_ops, ops);
}

static void *big_thread(void *arg)
{
	static const struct big_loop b = { 4, 256 << 10, 8 << 20, 0, 777 };

	(void)arg;
	big_loop_run(&b);
	return NULL;
}

static void *large_thread(void *arg)
{
	static const struct big_loop b = { 20, 5 << 20, 20 << 20, 1, 4242 };

	(void)arg;
	big_loop_run(&b);
	return NULL;
}

struct shape {
	const char *name;
	void *(*fn)(void *);
	int fixed_threads;	/* 0: THREADS argument */
};

static const struct shape shapes[] = {
	{ "larson-sized", larson_sized_thread, 0 },
	{ "churn", churn_thread, 0 },
	{ "bursts", bursts_thread, 0 },
	{ "rptest", rptest_thread, 0 },
	{ "batches", batches_thread, 1 },
	{ "big", big_thread, 1 },
	{ "large", large_thread, 1 },
};

/*
 * Timed (secs > 0) or a fixed number of ops per thread (ops > 0); with
 * rate, the time those ops took is measured too.
 */
static int run_shape(const struct shape *sh, int threads, double secs,
		     uint64_t ops, int rate)
{
	pthread_t t[64];
	double t0;
	long rss;
	int i;

	if (sh->fixed_threads)
		threads = sh->fixed_threads;
	if (threads < 1 || threads > 64)
		return 2;
	rp_threads = threads;
	shape_max_ops = ops;
	atomic_store(&stop, 0);
	atomic_store(&total_ops, 0);
	t0 = now();
	for (i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, sh->fn, (void *)(uintptr_t)(i + 1));
	if (!ops) {
		usleep((useconds_t)(secs * 1e6));
		atomic_store(&stop, 1);
	}
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	peak_rss(&rss);
	if (ops && !rate)
		return printf("RESULT ops %llu ops\n", (unsigned long long)
			      atomic_load(&total_ops)) < 0;
	printf("RESULT ops %.0f ops/s\n",
	       (double)atomic_load(&total_ops) / (now() - t0));
	return printf("RESULT rss %ld kB\n", rss) < 0;
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

/*
 * Touch mib MiB of fresh THP memory and give it back, outside any
 * allocator (scripts/bench.sh runs it before each timed run): a guest
 * whose free memory the host takes back (free page reporting) then has
 * that much free memory the host backs again, on 2 MiB blocks as on
 * smaller ones, as a machine without a host always has.  Prints the rate
 * of the touch: how much of it the host had taken back.
 */
static int warm(size_t mib)
{
	size_t len = mib << 20, i;
	char *p, *a;
	double t0;

	p = mmap(NULL, len + (2 << 20), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	a = (char *)(((uintptr_t)p + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));
	madvise(a, len, MADV_HUGEPAGE);
	t0 = now();
	for (i = 0; i < len; i += 4096)
		a[i] = 1;
	printf("RESULT touch %.0f MB/s\n", (double)len / 1e6 / (now() - t0));
	return munmap(p, len + (2 << 20));
}

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
	size_t i;

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
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		size_t len = strlen(shapes[i].name);

		if (strncmp(w, shapes[i].name, len))
			continue;
		if (!w[len] && argc == 4)
			return run_shape(&shapes[i], atoi(argv[2]),
					 atof(argv[3]), 0, 0);
		if (!strcmp(w + len, "-ops") && argc == 4)
			return run_shape(&shapes[i], atoi(argv[2]), 0,
					 strtoull(argv[3], NULL, 0), 0);
		if (!strcmp(w + len, "-work") && argc == 4)
			return run_shape(&shapes[i], atoi(argv[2]), 0,
					 strtoull(argv[3], NULL, 0), 1);
	}
	if (!strcmp(w, "batches") && argc == 3)
		return run_shape(&shapes[4], 1, atof(argv[2]), 0, 0);
	if (!strcmp(w, "big") && argc == 3)
		return run_shape(&shapes[5], 1, atof(argv[2]), 0, 0);
	if (!strcmp(w, "large") && argc == 3)
		return run_shape(&shapes[6], 1, atof(argv[2]), 0, 0);
	if (!strcmp(w, "tlb") && argc == 4)
		return tlb(strtoul(argv[2], NULL, 0), atol(argv[3]), 0);
	if (!strcmp(w, "tlb-hugetlb") && argc == 4)
		return tlb(strtoul(argv[2], NULL, 0), atol(argv[3]), 1);
	if (!strcmp(w, "grow") && argc == 3)
		return grow(strtoull(argv[2], NULL, 0));
	if (!strcmp(w, "warm") && argc == 3)
		return warm(strtoul(argv[2], NULL, 0));
	if (!strcmp(w, "rss") && argc == 2)
		return rss_ratio();
	fprintf(stderr, "usage: see the comment at the top of bench.c\n");
	return 2;
}
