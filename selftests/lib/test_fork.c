// SPDX-License-Identifier: GPL-2.0
/*
 * fork() gives the child a private copy of the heap on every backend, the
 * device one included (whose pages are MAP_SHARED: the library copies them
 * into the child at fork, lib/fork.c): the child reads the parent's data,
 * overwrites it and keeps allocating, and the parent's data stays intact.
 * Also from a multi-threaded parent, with pool counters checked from
 * outside (sysfs) on the device; and hpa_realloc of a device-backed block
 * never copies bytes (same physical first page when it can be read).
 */
#include <pthread.h>
#include <sys/time.h>
#include <glob.h>
#include <time.h>

#include "hpa_test.h"

static const size_t obj_sizes[] = {
	8, 16, 24, 48, 100, 128, 200, 500, 1000, 4096, 10000, 65536,
	100000, 300000, 1 << 20,
};
#define PER_SIZE	4
#define NOBJ		(sizeof(obj_sizes) / sizeof(obj_sizes[0]) * PER_SIZE)

struct objs {
	char *p[NOBJ];
	size_t len[NOBJ];
	char *huge;
	size_t huge_len;
};

static void fill(void *p, size_t len, uint64_t seed)
{
	uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = seed * 0x9e3779b97f4a7c15ULL + i;
}

/* Index of the first wrong word, or -1. */
static long check(const void *p, size_t len, uint64_t seed)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i] != seed * 0x9e3779b97f4a7c15ULL + i)
			return (long)i;
	return -1;
}

static bool objs_alloc(struct objs *o, uint64_t seed)
{
	size_t i;

	for (i = 0; i < NOBJ; i++) {
		o->len[i] = obj_sizes[i / PER_SIZE] & ~7UL;
		o->p[i] = hpa_malloc(o->len[i]);
		if (!o->p[i])
			return false;
		fill(o->p[i], o->len[i], seed + i);
	}
	o->huge_len = HPA_GUEST_SCALE(8 << 20, 6 << 20);
	o->huge = hpa_malloc(o->huge_len);
	if (!o->huge)
		return false;
	fill(o->huge, o->huge_len, seed + NOBJ);
	return true;
}

/* 0 when every object holds its pattern, else 1 + the object's index. */
static int objs_check(const struct objs *o, uint64_t seed)
{
	size_t i;

	for (i = 0; i < NOBJ; i++)
		if (check(o->p[i], o->len[i], seed + i) >= 0)
			return (int)i + 1;
	if (check(o->huge, o->huge_len, seed + NOBJ) >= 0)
		return NOBJ + 1;
	return 0;
}

static void objs_free(struct objs *o)
{
	size_t i;

	for (i = 0; i < NOBJ; i++)
		hpa_free(o->p[i]);
	hpa_free(o->huge);
}

/* Allocate, write, check and free a lot: the child's heap must work. */
static int churn_heap(unsigned int rounds)
{
	static char *keep[512];
	unsigned int r, i;

	for (r = 0; r < rounds; r++) {
		for (i = 0; i < 512; i++) {
			size_t len = 16 + ((i * 7919u + r * 104729u) % 20000);

			keep[i] = hpa_malloc(len);
			if (!keep[i])
				return 20;
			fill(keep[i], len & ~7UL, i + r);
		}
		for (i = 0; i < 512; i++) {
			size_t len = 16 + ((i * 7919u + r * 104729u) % 20000);

			if (check(keep[i], len & ~7UL, i + r) >= 0)
				return 21;
			hpa_free(keep[i]);
		}
	}
	return 0;
}

/*
 * The child: sees the parent's data, overwrites it, keeps allocating,
 * grows the huge block.  Exit code: 0 or what went wrong.
 */
static int child_work(struct objs *o, uint64_t seed)
{
	struct objs mine;
	char *q;
	int bad = objs_check(o, seed);

	if (bad)
		return 10;
	fill(o->huge, o->huge_len, ~seed);
	for (size_t i = 0; i < NOBJ; i++) {
		fill(o->p[i], o->len[i], ~seed + i);
		if (i % 3 == 0)
			hpa_free(o->p[i]);
	}
	if (!objs_alloc(&mine, seed * 3))
		return 11;
	if (churn_heap(2))
		return 12;
	q = hpa_realloc(o->huge, o->huge_len * 3);
	if (!q || check(q, o->huge_len, ~seed) >= 0)
		return 13;
	hpa_free(q);
	if (objs_check(&mine, seed * 3))
		return 14;
	objs_free(&mine);
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct hpa_stats stats(void)
{
	struct hpa_stats st = { .size = sizeof(st) };

	hpa_stats(&st);
	return st;
}

/* Fork, run child_work in the child, return its exit status (or -sig). */
static int fork_and_check(struct objs *o, uint64_t seed, double *ms)
{
	double t0 = now_ms();
	pid_t pid = fork();
	int status;

	if (pid == 0)
		_exit(child_work(o, seed));
	if (ms)
		*ms = now_ms() - t0;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1000;
	if (WIFSIGNALED(status))
		return -WTERMSIG(status);
	return WEXITSTATUS(status);
}

TEST(child_gets_a_private_copy)
{
	struct objs o;
	struct hpa_stats st;
	double ms;
	int i;

	HPA_REQUIRE_DEVICE();
	ASSERT_TRUE(objs_alloc(&o, 1));
	st = stats();
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, fork_and_check(&o, 1, &ms));
		/* The parent's view: untouched by the child's writes. */
		ASSERT_EQ(0, objs_check(&o, 1));
		if (i == 0)
			ksft_print_msg("%s backend: fork with %llu MiB mapped "
				       "returned to the parent after %.1f ms\n",
				       hpa_backend_name(st.backend),
				       (unsigned long long)(st.bytes_mapped >> 20),
				       ms);
	}
	/* And the parent keeps working. */
	ASSERT_EQ(0, churn_heap(2));
	o.huge = hpa_realloc(o.huge, o.huge_len * 2);
	ASSERT_NE(NULL, o.huge);
	ASSERT_EQ(-1, check(o.huge, o.huge_len, 1 + NOBJ));
	ASSERT_EQ(0, objs_check(&o, 1));
	objs_free(&o);
}

/* The child of a child: the second generation copies nothing new. */
TEST(grandchild)
{
	struct objs o;
	pid_t pid;
	int status;

	HPA_REQUIRE_DEVICE();
	ASSERT_TRUE(objs_alloc(&o, 7));
	pid = fork();
	if (pid == 0) {
		int r = fork_and_check(&o, 7, NULL);

		_exit(r ? 30 : objs_check(&o, 7) ? 31 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, objs_check(&o, 7));
	objs_free(&o);
}

static _Atomic int stop_threads;

/* Allocate, write and check its own objects until told to stop. */
static void *busy_thread(void *arg)
{
	uint64_t seed = (uintptr_t)arg;
	long bad = 0;

	while (!stop_threads && !bad) {
		char *p = hpa_malloc(2000), *q = hpa_malloc(20000);

		if (!p || !q)
			return (void *)1;
		fill(p, 2000, seed);
		fill(q, 20000, seed + 1);
		bad = check(p, 2000, seed) >= 0 || check(q, 20000, seed + 1) >= 0;
		hpa_free(p);
		hpa_free(q);
		seed++;
	}
	return (void *)bad;
}

TEST(fork_from_multithreaded_parent)
{
	pthread_t t[2];
	struct objs o;
	void *ret;
	int i;

	HPA_REQUIRE_DEVICE();
	ASSERT_TRUE(objs_alloc(&o, 99));
	stop_threads = 0;
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, busy_thread,
					    (void *)(uintptr_t)(1000 * i)));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, fork_and_check(&o, 99, NULL));
		ASSERT_EQ(0, objs_check(&o, 99));
	}
	stop_threads = 1;
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pthread_join(t[i], &ret));
		EXPECT_EQ(NULL, ret);
	}
	objs_free(&o);
}

/* DMA buffers stay shared with the child (they are the device's). */
TEST(dma_buffer_stays_shared)
{
	struct hpa_stats st = stats();
	uint64_t pa = 0, pa_child;
	char *buf;
	pid_t pid;
	int status, phys_err;

	HPA_REQUIRE_DEVICE();
	if (st.backend != HPA_BACKEND_DEVICE)
		SKIP(return, "DMA buffers need the device backend");
	buf = hpa_dma_alloc(4 << 20, -1, 0);
	ASSERT_NE(NULL, buf);
	memset(buf, 0x5a, 4 << 20);
	phys_err = hpa_virt2phys(buf + (3 << 20), &pa);
	pid = fork();
	if (pid == 0) {
		int code = 0;

		if (buf[0] != 0x5a || buf[(4 << 20) - 1] != 0x5a)
			code = 40;
		else if (!phys_err && (hpa_virt2phys(buf + (3 << 20),
						     &pa_child) ||
				       pa_child != pa))
			code = 41;
		else if (hpa_dma_alloc(2 << 20, -1, 0) || errno != ENODEV)
			code = 42;
		buf[1] = 0x11;
		if (!code && hpa_dma_free(buf))
			code = 43;
		_exit(code);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	/* Shared: the child's write is seen, and the buffer is still ours. */
	EXPECT_EQ(0x11, buf[1]);
	EXPECT_EQ(0x5a, buf[(4 << 20) - 1]);
	if (!phys_err) {
		ASSERT_EQ(0, hpa_virt2phys(buf + (3 << 20), &pa_child));
		EXPECT_EQ(pa, pa_child);
	}
	EXPECT_EQ(0, hpa_dma_free(buf));
}

/* Pages the module has handed out, summed over nodes and page sizes. */
static long device_pages_in_use(void)
{
	glob_t g;
	long sum = 0;
	size_t i;

	if (glob("/sys/kernel/hpalloc/node*/*/in_use", 0, NULL, &g))
		return -1;
	for (i = 0; i < g.gl_pathc; i++) {
		FILE *f = fopen(g.gl_pathv[i], "r");
		long v = 0;

		if (f && fscanf(f, "%ld", &v) == 1)
			sum += v;
		if (f)
			fclose(f);
	}
	globfree(&g);
	return sum;
}

/*
 * A fresh process (the library starts on the device there, which a forked
 * test child would not) that forks children, frees everything and exits:
 * see scenario_main().
 */
TEST(pool_counters_after_fork)
{
	long before, after = -1;
	pid_t pid;
	int status, i;

	HPA_REQUIRE_DEVICE();
	if (stats().backend != HPA_BACKEND_DEVICE)
		SKIP(return, "pool counters are the device's");
	before = device_pages_in_use();
	ASSERT_LE(0, before);
	pid = fork();
	if (pid == 0) {
		setenv("HPA_FORK_SCENARIO", "1", 1);
		execl("/proc/self/exe", "test_fork", (char *)NULL);
		_exit(127);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	/*
	 * Buffers go when their last mapping does, in a module worker; give it
	 * up to 30 s (as the module's pool tests do) on a slow, loaded guest.
	 */
	for (i = 0; i < 300 && after != before; i++) {
		after = device_pages_in_use();
		if (after != before)
			usleep(100000);
	}
	EXPECT_EQ(before, after);
}

/*
 * Exit code 0 when the parent's buffers survived its children: the handles
 * still answer HPALLOC_IOC_QUERY (a child that freed one would have taken
 * it away) and the data is intact.
 */
static int scenario_main(void)
{
	struct objs o;
	uint64_t pa, pa2;
	int r, phys;

	if (!objs_alloc(&o, 5) || stats().backend != HPA_BACKEND_DEVICE)
		return 50;
	phys = hpa_virt2phys(o.huge, &pa);
	if (phys && phys != -EPERM)
		return 51;
	r = fork_and_check(&o, 5, NULL);
	if (r)
		return 52;
	r = fork_and_check(&o, 5, NULL);
	if (r)
		return 53;
	if (objs_check(&o, 5))
		return 54;
	if (!phys && (hpa_virt2phys(o.huge, &pa2) || pa2 != pa))
		return 55;
	objs_free(&o);
	return 0;
}

__attribute__((constructor)) static void scenario(void)
{
	if (getenv("HPA_FORK_SCENARIO"))
		_exit(scenario_main());
}

/*
 * Doubling a block from 2 MiB: grown in place or moved by remapping, never
 * copied (the device backend maps the same handles again elsewhere).  Every
 * other step the chunk right after the block is taken first, so that the
 * block cannot grow in place and has to move.
 */
TEST(realloc_doubling_never_copies)
{
	size_t size = 2 << 20, top = HPA_GUEST_SCALE(256 << 20, 256 << 20);
	long blockers[16];
	unsigned int nblock = 0, step = 0, i;
	struct hpa_stats st0, st;
	uint64_t pa0, pa;
	char *p;
	int phys;
	size_t off;

	HPA_REQUIRE_DEVICE();
	st0 = stats();
	if (st0.backend == HPA_BACKEND_HUGETLB)
		SKIP(return, "hugetlb mappings cannot be moved");
	p = hpa_malloc(size);
	ASSERT_NE(NULL, p);
	fill(p, size, 3);
	phys = hpa_virt2phys(p, &pa0);
	while (size < top) {
		size_t old = size, end = hpa_chunk_index(p) +
					 (old >> HPA_CHUNK_SHIFT);

		if (step++ % 2 == 0 && nblock < 16 && hpa_arena_take_at(end, 1))
			blockers[nblock++] = (long)end;
		size *= 2;
		p = hpa_realloc(p, size);
		ASSERT_NE(NULL, p);
		/* A word per 64 KiB of the old part, all of the new part's end. */
		for (off = 0; off < old; off += 65536)
			ASSERT_EQ(3 * 0x9e3779b97f4a7c15ULL + off / 8,
				  ((uint64_t *)p)[off / 8]);
		for (off = old; off < size; off += 65536)
			((uint64_t *)p)[off / 8] = 3 * 0x9e3779b97f4a7c15ULL +
						   off / 8;
		if (!phys) {
			ASSERT_EQ(0, hpa_virt2phys(p, &pa));
			ASSERT_EQ(pa0, pa);
		}
	}
	for (i = 0; i < nblock; i++)
		hpa_arena_give((size_t)blockers[i], 1);
	st = stats();
	EXPECT_EQ(st0.realloc_copies, st.realloc_copies);
	EXPECT_GE(st.realloc_remaps - st0.realloc_remaps, 3);
	EXPECT_GE(st.realloc_remaps + st.realloc_in_place -
		  st0.realloc_remaps - st0.realloc_in_place, 7);
	ksft_print_msg("%s: 2 MiB -> %zu MiB: %llu in place, %llu remapped, "
		       "%llu copied; phys %s\n", hpa_backend_name(st.backend),
		       top >> 20,
		       (unsigned long long)(st.realloc_in_place -
					    st0.realloc_in_place),
		       (unsigned long long)(st.realloc_remaps -
					    st0.realloc_remaps),
		       (unsigned long long)(st.realloc_copies -
					    st0.realloc_copies),
		       phys ? "not readable" : "unchanged");
	hpa_free(p);
}

/* What fork costs with a big block mapped: the child's copy on the device. */
TEST(fork_cost)
{
	size_t len = 64 << 20;
	struct hpa_stats st;
	char *p = hpa_malloc(len);
	double t0, ms;
	pid_t pid;
	int status;

	HPA_REQUIRE_DEVICE();
	ASSERT_NE(NULL, p);
	fill(p, len, 11);
	st = stats();
	t0 = now_ms();
	pid = fork();
	if (pid == 0)
		_exit(check(p, len, 11) >= 0);
	ms = now_ms() - t0;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ksft_print_msg("%s backend: fork with %llu MiB mapped (%zu MiB block) "
		       "returned to the parent after %.1f ms\n",
		       hpa_backend_name(st.backend),
		       (unsigned long long)(st.bytes_mapped >> 20), len >> 20,
		       ms);
	hpa_free(p);
}

/*
 * hugetlb with a pool just above the heap's size: a plain fork would leave
 * the child's copy on write without a free huge page (SIGBUS).  The
 * library copies hugetlb chunks into the child (lib/fork.c).
 */
FIXTURE(tight_hugetlb) {
	long nr_orig;
};

FIXTURE_SETUP(tight_hugetlb)
{
	self->nr_orig = read_num(NR_HUGEPAGES);
}

FIXTURE_TEARDOWN_PARENT(tight_hugetlb)
{
	if (self->nr_orig >= 0)
		write_num(NR_HUGEPAGES, self->nr_orig);
}

TEST_F(tight_hugetlb, child_rewrites_everything)
{
	const size_t nblk = HPA_GUEST_SCALE(40, 8), blk = 4 << 20;
	long free_before, free_after, want;
	struct hpa_stats st;
	char *b[40];
	size_t i;
	pid_t pid;
	int status;

	if (self->nr_orig < 0 || read_num(FREE_HUGEPAGES) < 0)
		SKIP(return, "no 2 MiB hugetlb pages in this kernel");
	if (hpa_initialized)
		SKIP(return, "the library is already initialised");
	free_before = read_num(FREE_HUGEPAGES);
	/* The blocks, a few segments, and nothing to spare for the child. */
	want = (long)(nblk * blk / HPA_CHUNK_SIZE) + 4;
	if (!write_num(NR_HUGEPAGES, self->nr_orig + want - free_before))
		SKIP(return, "cannot write %s (not root?)", NR_HUGEPAGES);
	if (read_num(FREE_HUGEPAGES) < want)
		SKIP(return, "the kernel found only %ld of %ld huge pages",
		     read_num(FREE_HUGEPAGES), want);
	setenv("HPALLOC_BACKEND", "hugetlb", 1);
	for (i = 0; i < nblk; i++) {
		b[i] = hpa_malloc(blk);
		ASSERT_NE(NULL, b[i]);
		fill(b[i], blk, i);
	}
	st = stats();
	ASSERT_EQ(HPA_BACKEND_HUGETLB, st.backend);
	ASSERT_GE(st.per_backend[HPA_BACKEND_HUGETLB].bytes_mapped, nblk * blk);
	free_after = read_num(FREE_HUGEPAGES);
	ksft_print_msg("%zu MiB on hugetlb, %ld huge pages left free\n",
		       nblk * blk >> 20, free_after);
	/* Tight: the child could not copy on write every page it inherited. */
	ASSERT_LT(free_after, (long)(nblk * blk / HPA_CHUNK_SIZE));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		for (i = 0; i < nblk; i++)
			if (check(b[i], blk, i) >= 0)
				_exit(1);
		for (i = 0; i < nblk; i++)
			fill(b[i], blk, 1000 + i);
		for (i = 0; i < nblk; i++)
			if (check(b[i], blk, 1000 + i) >= 0)
				_exit(2);
		if (churn_heap(3))
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_FALSE(WIFSIGNALED(status))
		TH_LOG("child killed by signal %d", WTERMSIG(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	for (i = 0; i < nblk; i++) {
		ASSERT_EQ(-1, check(b[i], blk, i));
		fill(b[i], blk, 2000 + i);
		hpa_free(b[i]);
	}
}

TEST_HARNESS_MAIN
