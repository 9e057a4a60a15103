// SPDX-License-Identifier: GPL-2.0
/*
 * The hugetlb policy: the pool (vm.nr_hugepages) is the administrator's
 * reservation, so the library takes it only when HPALLOC_BACKEND=hugetlb
 * asks; when it runs out, maps fall back, are counted in
 * hpa_stats.fallbacks, and HPALLOC_DEBUG says so once.  Each test resizes
 * the pool (root) and restores it, or skips.
 */
#include "hpa_test.h"

FIXTURE(pool) {
	long nr_orig;
};

FIXTURE_SETUP(pool)
{
	self->nr_orig = read_num(NR_HUGEPAGES);
}

FIXTURE_TEARDOWN_PARENT(pool)
{
	if (self->nr_orig >= 0)
		write_num(NR_HUGEPAGES, self->nr_orig);
}

/*
 * Make the pool hold exactly free free pages; false if it cannot.  The
 * teardown runs in the harness's process, so it restores the pool even
 * when a test's assertion ends it.
 */
static bool pool_free_pages(long nr_orig, long free)
{
	long now = read_num(FREE_HUGEPAGES);

	if (nr_orig < 0 || now < 0 ||
	    !write_num(NR_HUGEPAGES, nr_orig + free - now))
		return false;
	return read_num(FREE_HUGEPAGES) == free;
}

static struct hpa_stats stats(void)
{
	struct hpa_stats st = { .size = sizeof(st) };

	hpa_stats(&st);
	return st;
}

TEST_F(pool, auto_leaves_the_pool_alone)
{
	const char *forced = getenv("HPALLOC_BACKEND");
	struct hpa_stats st;
	char *big, *small;

	if (forced && strcmp(forced, "auto"))
		SKIP(return, "HPALLOC_BACKEND=%s is forced", forced);
	if (!pool_free_pages(self->nr_orig, 8))
		SKIP(return, "cannot resize the hugetlb pool (not root?)");
	big = hpa_malloc(8 << 20);
	small = hpa_malloc(100);
	ASSERT_NE(NULL, big);
	ASSERT_NE(NULL, small);
	memset(big, 1, 8 << 20);
	st = stats();
	EXPECT_NE(HPA_BACKEND_HUGETLB, st.backend);
	EXPECT_EQ(0, st.per_backend[HPA_BACKEND_HUGETLB].bytes_mapped);
	EXPECT_EQ(8, read_num(FREE_HUGEPAGES));
	hpa_free(big);
	hpa_free(small);
}

/* Child: hugetlb forced over a pool of 2 pages, 40 MiB allocated. */
static void exhaust_pool(void *arg)
{
	struct hpa_stats st;
	char *p;
	int i;

	(void)arg;
	setenv("HPALLOC_BACKEND", "hugetlb", 1);
	setenv("HPALLOC_DEBUG", "1", 1);
	for (i = 0; i < 10; i++) {
		p = hpa_malloc(4 << 20);
		if (!p)
			_exit(10);
		memset(p, 1, 4 << 20);	/* hugetlb pages count when touched */
	}
	st = stats();
	if (st.backend != HPA_BACKEND_HUGETLB)
		_exit(11);
	if (st.fallbacks < 9 || st.per_backend[HPA_BACKEND_HUGETLB].map_failures < 9)
		_exit(12);
	if (read_num(FREE_HUGEPAGES) != 0)
		_exit(13);
	_exit(0);
}

static int count_lines(const char *text, const char *what)
{
	const char *p = text;
	int n = 0;

	while ((p = strstr(p, what))) {
		n++;
		p++;
	}
	return n;
}

TEST_F(pool, out_of_pages_is_counted_and_said_once)
{
	static char err[16384];
	int sig, status = -1;

	if (!pool_free_pages(self->nr_orig, 2))
		SKIP(return, "cannot resize the hugetlb pool (not root?)");
	sig = run_child(exhaust_pool, NULL, err, sizeof(err), &status);
	ASSERT_EQ(0, sig) TH_LOG("child killed by signal %d: %s", sig, err);
	ASSERT_EQ(0, status) TH_LOG("stderr: %s", err);
	EXPECT_EQ(1, count_lines(err, "hugetlb: a map of"))
		TH_LOG("stderr: %s", err);
}

TEST_HARNESS_MAIN
