// SPDX-License-Identifier: GPL-2.0
/*
 * The public API on the real backend (HPALLOC_BACKEND picks it): bad
 * inputs and their errno, abort messages on heap corruption, backend
 * reporting, huge pages seen from /proc/self/smaps, growth without copy.
 * Runs on the host and in the guest (device backend).
 */
#include <pthread.h>
#include <sys/mman.h>

#include "hpa_test.h"

static struct hpa_stats stats(void)
{
	struct hpa_stats st = { .size = sizeof(st) };

	hpa_stats(&st);
	return st;
}

/* The KernelPageSize (kB) and AnonHugePages (kB) of the mapping at p. */
static int smaps_of(const void *p, long *kps, long *anon_huge)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	int in = 0;

	*kps = *anon_huge = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;

		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)p >= a && (uintptr_t)p < b;
			continue;
		}
		if (in) {
			sscanf(line, "KernelPageSize: %ld kB", kps);
			sscanf(line, "AnonHugePages: %ld kB", anon_huge);
		}
	}
	fclose(f);
	return 0;
}

FIXTURE(api) {};
FIXTURE_SETUP(api) { HPA_REQUIRE_DEVICE(); }
FIXTURE_TEARDOWN(api) {}

TEST_F(api, malloc_zero_and_usable_size)
{
	char *a = hpa_malloc(0), *b = hpa_malloc(0);
	size_t sizes[] = { 1, 17, 1000, 5000, 70000, 1 << 20, (1 << 20) + 1,
			   7 << 20 };
	unsigned int i;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	EXPECT_NE(a, b);
	EXPECT_EQ(0, hpa_usable_size(NULL));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *p = hpa_malloc(sizes[i]);

		ASSERT_NE(NULL, p);
		EXPECT_GE(hpa_usable_size(p), sizes[i]);
		memset(p, 1, hpa_usable_size(p));
		hpa_free(p);
	}
	hpa_free(a);
	hpa_free(b);
	hpa_free(NULL);
}

TEST_F(api, sizes_near_size_max_are_enomem)
{
	size_t sizes[] = { SIZE_MAX, SIZE_MAX - 4095, SIZE_MAX / 2 + 1 };
	char *p = hpa_malloc(100);
	unsigned int i;
	void *q = (void *)1;

	strcpy(p, "kept");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		errno = 0;
		EXPECT_EQ(NULL, hpa_malloc(sizes[i]));
		EXPECT_EQ(ENOMEM, errno);
		errno = 0;
		EXPECT_EQ(NULL, hpa_realloc(p, sizes[i]));
		EXPECT_EQ(ENOMEM, errno);
		EXPECT_STREQ("kept", p);
		errno = 0;
		EXPECT_EQ(NULL, hpa_malloc_node(sizes[i], 0));
		EXPECT_EQ(ENOMEM, errno);
		EXPECT_EQ(ENOMEM, hpa_posix_memalign(&q, 64, sizes[i]));
		EXPECT_EQ((void *)1, q);
	}
	errno = 0;
	EXPECT_EQ(NULL, hpa_calloc(SIZE_MAX / 8, 16));
	EXPECT_EQ(ENOMEM, errno);
	hpa_free(p);
}

TEST_F(api, bad_alignment_is_einval)
{
	size_t bad[] = { 0, 3, 24, 4097, SIZE_MAX };
	unsigned int i;
	void *q = NULL;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		EXPECT_EQ(NULL, hpa_aligned_alloc(bad[i], 64));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(EINVAL, hpa_posix_memalign(&q, bad[i], 64));
	}
	/* posix_memalign also wants a multiple of sizeof(void *). */
	EXPECT_EQ(EINVAL, hpa_posix_memalign(&q, 4, 64));
	EXPECT_EQ(EINVAL, hpa_posix_memalign(NULL, 64, 64));
	EXPECT_EQ(0, hpa_posix_memalign(&q, 8, 64));
	hpa_free(q);
}

TEST_F(api, alignments_are_honoured)
{
	size_t a;

	for (a = 1; a <= (64 << 20); a <<= 1) {
		char *p = hpa_aligned_alloc(a, 100);
		char *q = hpa_aligned_alloc(a, a * 3 / 2 + 1);

		ASSERT_NE(NULL, p);
		ASSERT_NE(NULL, q);
		EXPECT_EQ(0, (uintptr_t)p % a) TH_LOG("align %zu", a);
		EXPECT_EQ(0, (uintptr_t)q % a) TH_LOG("align %zu", a);
		memset(q, 0xab, a * 3 / 2 + 1);
		hpa_free(p);
		hpa_free(q);
	}
}

static void free_foreign(void *arg)
{
	hpa_free(arg);
}

static void free_twice_small(void *arg)
{
	char *p = hpa_malloc(48);

	(void)arg;
	hpa_free(p);
	hpa_free(p);
}

static void free_twice_huge(void *arg)
{
	char *p = hpa_malloc(5 << 20);

	(void)arg;
	hpa_free(p);
	hpa_free(p);
}

static void free_inside_huge(void *arg)
{
	char *p = hpa_malloc(5 << 20);

	(void)arg;
	hpa_free(p + 4096);
}

TEST_F(api, corruption_aborts_naming_the_pointer)
{
	char buf[1024], want[128];
	void *foreign = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	snprintf(want, sizeof(want),
		 "hpa_free(%p): pointer was not allocated by hpalloc", foreign);
	EXPECT_EQ(SIGABRT, run_child(free_foreign, foreign, buf, sizeof(buf),
				     NULL));
	EXPECT_NE(NULL, strstr(buf, want)) TH_LOG("stderr: %s", buf);
	EXPECT_EQ(SIGABRT, run_child(free_twice_small, NULL, buf, sizeof(buf),
				     NULL));
	EXPECT_NE(NULL, strstr(buf, "double free")) TH_LOG("stderr: %s", buf);
	EXPECT_EQ(SIGABRT, run_child(free_twice_huge, NULL, buf, sizeof(buf),
				     NULL));
	EXPECT_NE(NULL, strstr(buf, "double free")) TH_LOG("stderr: %s", buf);
	EXPECT_EQ(SIGABRT, run_child(free_inside_huge, NULL, buf,
				     sizeof(buf), NULL));
	EXPECT_NE(NULL, strstr(buf, "not the start of a block"))
		TH_LOG("stderr: %s", buf);
	munmap(foreign, 4096);
}

TEST_F(api, backend_is_reported_and_never_better_than_forced)
{
	const char *forced = getenv("HPALLOC_BACKEND");
	struct hpa_stats st;
	unsigned int i, want = 0;
	char *p = hpa_malloc(1000);

	st = stats();
	ASSERT_LT(st.backend, HPA_BACKEND_MAX);
	ksft_print_msg("backend %s (HPALLOC_BACKEND=%s), fallbacks %llu\n",
		       hpa_backend_name(st.backend), forced ? forced : "",
		       (unsigned long long)st.fallbacks);
	for (i = 0; forced && i < HPA_BACKEND_MAX; i++)
		if (!strcmp(forced, hpa_backend_name(i)))
			want = i;
	EXPECT_GE(st.backend, want);
	if (forced && !strcmp(forced, "4k"))
		EXPECT_EQ(HPA_BACKEND_4K, st.backend);
	for (i = 0; i < want; i++)
		EXPECT_EQ(0, st.per_backend[i].bytes_mapped);
	EXPECT_GE(st.bytes_mapped, HPA_CHUNK_SIZE);
	EXPECT_GE(st.reserved_bytes, 4UL << 30);
	EXPECT_EQ(NULL, hpa_backend_name(HPA_BACKEND_MAX));
	st.size = 4;
	EXPECT_EQ(-EINVAL, hpa_stats(&st));
	EXPECT_EQ(-EINVAL, hpa_stats(NULL));
	hpa_free(p);
}

TEST_F(api, huge_block_sits_on_huge_pages)
{
	size_t len = 8 << 20;
	char *p = hpa_malloc(len);
	long kps, ahp;
	struct hpa_stats st;

	ASSERT_NE(NULL, p);
	memset(p, 7, len);
	st = stats();
	ASSERT_EQ(0, smaps_of(p, &kps, &ahp));
	switch (st.backend) {
	case HPA_BACKEND_HUGETLB:
		EXPECT_EQ(2048, kps);
		break;
	case HPA_BACKEND_THP:
		if (ahp <= 0)
			SKIP(hpa_free(p); return,
			     "THP gave no huge page (defrag/khugepaged setting)");
		EXPECT_GE(ahp, 2048);
		break;
	case HPA_BACKEND_4K:
		EXPECT_EQ(4, kps);
		EXPECT_EQ(0, ahp);
		break;
	default:
		/* Device: PMD-mapped PFN pages; smaps says 2 MiB pages. */
		EXPECT_GE(st.per_backend[HPA_BACKEND_DEVICE].bytes_mapped, len);
		EXPECT_EQ(2048, kps);
		break;
	}
	hpa_free(p);
}

TEST_F(api, realloc_doubling_never_copies)
{
	size_t size = 2 << 20, top = HPA_GUEST_SCALE(256 << 20, 32 << 20);
	char *p = hpa_malloc(size);
	struct hpa_stats st;

	ASSERT_NE(NULL, p);
	p[0] = 1;
	p[size - 1] = 2;
	while (size < top) {
		size_t old = size;

		size *= 2;
		p = hpa_realloc(p, size);
		ASSERT_NE(NULL, p);
		ASSERT_EQ(1, p[0]);
		ASSERT_EQ(2, p[old - 1]);
		p[old - 1] = 0;
		p[size - 1] = 2;
	}
	st = stats();
	EXPECT_EQ(0, st.realloc_copies);
	EXPECT_GE(st.realloc_in_place + st.realloc_remaps,
		  HPA_GUEST_SCALE(7, 4));
	hpa_free(p);
}

TEST_F(api, calloc_zeroes_recycled_memory)
{
	size_t len = 6 << 20, i;
	char *p = hpa_malloc(len), *q;

	memset(p, 0xee, len);
	hpa_free(p);
	q = hpa_calloc(1, len);
	ASSERT_NE(NULL, q);
	for (i = 0; i < len; i += 511)
		ASSERT_EQ(0, q[i]) TH_LOG("byte %zu", i);
	hpa_free(q);
	p = hpa_malloc(300);
	memset(p, 0xee, 300);
	hpa_free(p);
	q = hpa_calloc(3, 100);
	for (i = 0; i < 300; i++)
		ASSERT_EQ(0, q[i]);
	hpa_free(q);
}

TEST_F(api, dma_and_virt2phys_errors)
{
	struct hpa_stats st = stats();
	uint64_t phys;
	int local, r;

	errno = 0;
	EXPECT_EQ(NULL, hpa_dma_alloc(1 << 20, -1, 0x100));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, hpa_dma_alloc(0, -1, 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, hpa_dma_alloc(1 << 20, -7, 0));
	EXPECT_EQ(EINVAL, errno);
	if (st.backend != HPA_BACKEND_DEVICE) {
		errno = 0;
		EXPECT_EQ(NULL, hpa_dma_alloc(1 << 20, -1, 0));
		EXPECT_EQ(ENODEV, errno);
	}
	EXPECT_EQ(-EINVAL, hpa_dma_free(&local));
	EXPECT_EQ(-EINVAL, hpa_dma_free(NULL));
	EXPECT_EQ(-EINVAL, hpa_virt2phys(NULL, &phys));
	EXPECT_EQ(-EINVAL, hpa_virt2phys(&local, NULL));
	/* A stack page: a physical address, or EPERM without privilege. */
	r = hpa_virt2phys(&local, &phys);
	EXPECT_TRUE(r == 0 || r == -EPERM) TH_LOG("r %d", r);
	/* Reserved but unmapped address space. */
	EXPECT_EQ(-EFAULT, hpa_virt2phys((char *)hpa_arena.base +
					 hpa_arena.size - 4096, &phys));
}

static _Atomic int churn_stop;

static void *churn(void *arg)
{
	(void)arg;
	while (!churn_stop)
		hpa_free(hpa_malloc(3000));
	return NULL;
}

/*
 * fork() while other threads allocate: the library holds its locks across
 * fork, so the child never inherits one held by a thread it does not have.
 * The device backend shares heap memory with a forked child (MAP_SHARED):
 * skipped there.
 */
TEST_F(api, fork_while_threads_allocate)
{
	pthread_t t[2];
	int i, status;

	/* On the device backend the child gets a private copy (fork.c). */
	churn_stop = 0;
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, churn, NULL));
	for (i = 0; i < HPA_GUEST_SCALE(50, 5); i++) {
		pid_t pid = fork();

		if (pid == 0) {
			char *p = hpa_malloc(100), *q = hpa_malloc(5 << 20);

			_exit(p && q ? 0 : 1);
		}
		ASSERT_GT(pid, 0);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
	churn_stop = 1;
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
}

TEST_HARNESS_MAIN
