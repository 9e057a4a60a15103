// SPDX-License-Identifier: GPL-2.0
/*
 * glibc's malloc surface beyond malloc/free, run under
 * LD_PRELOAD=libhpalloc-preload.so (run-host.sh): the __libc_* names pair
 * with free and malloc, mallinfo2/mallinfo report hpalloc's heap,
 * malloc_trim gives retained memory back, mallopt maps M_TRIM_THRESHOLD
 * and refuses the rest, malloc_stats and malloc_info print hpalloc's
 * numbers.  A plain glibc program: it reaches the library's hpa_stats and
 * hpa_usable_size through dlsym, and fails without the preload.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hpalloc.h"

void *__libc_malloc(size_t size);
void __libc_free(void *p);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t align, size_t size);

static int (*stats_fn)(struct hpa_stats *);
static size_t (*usable_fn)(const void *);

static bool preloaded(void)
{
	stats_fn = (int (*)(struct hpa_stats *))dlsym(RTLD_DEFAULT, "hpa_stats");
	usable_fn = (size_t (*)(const void *))dlsym(RTLD_DEFAULT,
						    "hpa_usable_size");
	return stats_fn && usable_fn;
}

static struct hpa_stats stats(void)
{
	struct hpa_stats st = { .size = sizeof(st) };

	stats_fn(&st);
	return st;
}

#define REQUIRE_PRELOAD() do { \
	ASSERT_TRUE(preloaded()) \
		TH_LOG("run with LD_PRELOAD=libhpalloc-preload.so"); \
} while (0)

TEST(libc_names_pair_with_malloc_and_free)
{
	char *p, *q, *c, *r, *m;
	size_t i;

	REQUIRE_PRELOAD();
	p = __libc_malloc(100);
	ASSERT_NE(NULL, p);
	/* hpa_usable_size aborts on a block that is not hpalloc's */
	EXPECT_GE(usable_fn(p), 100);
	memset(p, 1, 100);
	free(p);
	q = malloc(200);
	ASSERT_NE(NULL, q);
	__libc_free(q);
	c = __libc_calloc(10, 100);
	ASSERT_NE(NULL, c);
	for (i = 0; i < 1000; i++)
		ASSERT_EQ(0, c[i]);
	memset(c, 7, 1000);
	r = __libc_realloc(c, 5000);
	ASSERT_NE(NULL, r);
	for (i = 0; i < 1000; i++)
		ASSERT_EQ(7, r[i]);
	EXPECT_GE(usable_fn(r), 5000);
	m = __libc_memalign(256, 1000);
	ASSERT_NE(NULL, m);
	EXPECT_EQ(0, (uintptr_t)m % 256);
	EXPECT_GE(usable_fn(m), 1000);
	__libc_free(r);
	free(m);
}

TEST(mallinfo2_reports_the_heap)
{
	enum { N = 2000, SZ = 5000, BIG = 8 << 20 };
	struct mallinfo2 mi;
	struct mallinfo old;
	struct hpa_stats st;
	char **v, *big;
	int i;

	REQUIRE_PRELOAD();
	v = malloc(N * sizeof(*v));
	ASSERT_NE(NULL, v);
	for (i = 0; i < N; i++) {
		v[i] = malloc(SZ);
		ASSERT_NE(NULL, v[i]);
	}
	big = malloc(BIG);
	ASSERT_NE(NULL, big);
	mi = mallinfo2();
	st = stats();
	EXPECT_GE(mi.uordblks, (size_t)N * SZ + BIG);
	EXPECT_EQ(st.bytes_mapped, mi.arena);
	EXPECT_GE(mi.arena, mi.uordblks);
	EXPECT_EQ(mi.arena - mi.uordblks, mi.fordblks);
	EXPECT_GE(mi.hblkhd, (size_t)BIG);
	EXPECT_GE(mi.ordblks, 1);
	/* deprecated, still called by older programs */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	old = mallinfo();
#pragma GCC diagnostic pop
	EXPECT_GE(old.uordblks, N * SZ + BIG);
	for (i = 0; i < N; i++)
		free(v[i]);
	free(v);
	free(big);
}

/* Big blocks freed: retained; trimmed: given back. */
static void retain_some(void)
{
	static char *volatile p[8];
	int i;

	for (i = 0; i < 8; i++) {
		p[i] = malloc(4 << 20);
		memset(p[i], 1, 4 << 20);
	}
	for (i = 0; i < 8; i++)
		free(p[i]);
}

TEST(malloc_trim_gives_retained_memory_back)
{
	struct hpa_stats before, after;

	REQUIRE_PRELOAD();
	retain_some();
	before = stats();
	ASSERT_GE(before.bytes_retained, 4 << 20);
	EXPECT_EQ(1, malloc_trim(0));
	after = stats();
	EXPECT_EQ(0, after.bytes_retained);
	EXPECT_LE(after.bytes_mapped + before.bytes_retained,
		  before.bytes_mapped);
	EXPECT_EQ(0, malloc_trim(0));
}

TEST(mallopt_maps_trim_threshold_and_refuses_the_rest)
{
	REQUIRE_PRELOAD();
	EXPECT_EQ(1, mallopt(M_TRIM_THRESHOLD, 0));
	retain_some();
	EXPECT_EQ(0, stats().bytes_retained);
	EXPECT_EQ(1, mallopt(M_TRIM_THRESHOLD, 64 << 20));
	retain_some();
	EXPECT_GE(stats().bytes_retained, 4 << 20);
	EXPECT_EQ(0, mallopt(M_TRIM_THRESHOLD, -1));
	EXPECT_EQ(0, mallopt(M_MXFAST, 64));
	EXPECT_EQ(0, mallopt(M_ARENA_MAX, 2));
	EXPECT_EQ(0, mallopt(M_MMAP_THRESHOLD, 1 << 20));
	EXPECT_EQ(0, mallopt(M_PERTURB, 0x55));
	EXPECT_EQ(0, mallopt(12345, 1));
}

/* What fn writes on fd 2, in buf. */
static void capture_stderr(void (*fn)(void), char *buf, size_t len)
{
	FILE *f = tmpfile();
	int saved = dup(2);
	size_t n;

	fflush(stderr);
	dup2(fileno(f), 2);
	fn();
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
}

/* Kept where the compiler cannot drop a malloc whose block is unused. */
static void *volatile keep;

TEST(malloc_stats_prints_hpallocs_summary)
{
	char buf[8192];

	REQUIRE_PRELOAD();
	keep = malloc(1000);
	capture_stderr(malloc_stats, buf, sizeof(buf));
	EXPECT_NE(NULL, strstr(buf, "hpalloc: stats: backend "))
		TH_LOG("got: %s", buf);
	EXPECT_NE(NULL, strstr(buf, "hpalloc: stats: mapped "));
	EXPECT_NE(NULL, strstr(buf, " 1024:")) TH_LOG("got: %s", buf);
	free(keep);
}

TEST(malloc_info_writes_xml)
{
	FILE *f = tmpfile();
	char buf[8192];
	size_t n;

	REQUIRE_PRELOAD();
	ASSERT_NE(NULL, f);
	EXPECT_EQ(0, malloc_info(0, f));
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	EXPECT_EQ(0, strncmp(buf, "<malloc version=\"hpalloc-1\">", 28))
		TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "<total type=\"mapped\" size=\""));
	EXPECT_NE(NULL, strstr(buf, "</malloc>\n"));
	errno = 0;
	EXPECT_EQ(-1, malloc_info(1, f));
	EXPECT_EQ(EINVAL, errno);
	fclose(f);
}

/* Out of memory through the preloaded names: glibc's errno conventions. */
TEST(malloc_family_failures_set_errno_as_glibc)
{
	volatile size_t huge = SIZE_MAX / 2;
	void *(*volatile realloc_fn)(void *, size_t) = realloc;
	void *q = (void *)1;
	char *p;

	REQUIRE_PRELOAD();
	p = malloc(100);
	ASSERT_NE(NULL, p);
	strcpy(p, "kept");
	errno = 0;
	EXPECT_EQ(NULL, malloc(huge));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, __libc_malloc(huge));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, calloc(huge, 4));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, calloc(huge / 4, 2));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, aligned_alloc(4096, huge));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, memalign(64, huge));
	EXPECT_EQ(ENOMEM, errno);
	/* Through a pointer: GCC takes p for freed after any realloc. */
	errno = 0;
	EXPECT_EQ(NULL, realloc_fn(p, huge));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_STREQ("kept", p);
	errno = EDOM;
	EXPECT_EQ(ENOMEM, posix_memalign(&q, 64, huge));
	EXPECT_EQ(EDOM, errno);
	EXPECT_EQ((void *)1, q);
	free(p);
}

TEST_HARNESS_MAIN
