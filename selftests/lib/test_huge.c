// SPDX-License-Identifier: GPL-2.0
/* Blocks of whole chunks and growth without copy, over the fake backend. */
#include "hpa_test.h"

static struct hpa_stats stats(void)
{
	struct hpa_stats st = { .size = sizeof(st) };

	hpa_stats(&st);
	return st;
}

static void fill(char *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i += 4096)
		p[i] = (char)(seed + i / 4096);
	p[n - 1] = (char)seed;
}

static int check(const char *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i += 4096)
		if (p[i] != (char)(seed + i / 4096))
			return 0;
	return p[n - 1] == (char)seed;
}

FIXTURE(huge) {};
FIXTURE_SETUP(huge)
{
	fake_install();
	setenv("HPALLOC_RETAIN", "0", 1);
	hpa_init_slow();
}
FIXTURE_TEARDOWN(huge) {}

TEST_F(huge, alloc_is_chunk_aligned_and_freed)
{
	char *p = hpa_malloc(5 << 20);

	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, (uintptr_t)p & HPA_CHUNK_MASK);
	EXPECT_EQ(6 << 20, hpa_usable_size(p));
	EXPECT_EQ(6 << 20, stats().bytes_in_use);
	fill(p, 5 << 20, 1);
	hpa_free(p);
	EXPECT_EQ(0, stats().bytes_in_use);
	EXPECT_FALSE(fake_committed(p));
	EXPECT_EQ(0, fake.errors);
}

TEST_F(huge, grows_in_place_then_moves_without_copy)
{
	char *p = hpa_malloc(3 << 20), *q, *blocker, *r;
	long commits;

	ASSERT_NE(NULL, p);
	fill(p, 3 << 20, 7);
	q = hpa_realloc(p, 9 << 20);
	EXPECT_EQ(p, q);
	EXPECT_EQ(1, stats().realloc_in_place);
	EXPECT_TRUE(check(q, 3 << 20, 7));
	fill(q, 9 << 20, 9);
	/* Take the chunks right after the block: it has to move. */
	blocker = hpa_realloc(NULL, 1);
	ASSERT_TRUE(hpa_arena_take_at(hpa_chunk_index(q) + 5, 1));
	commits = fake.commits;
	r = hpa_realloc(q, 40 << 20);
	ASSERT_NE(NULL, r);
	EXPECT_NE(q, r);
	EXPECT_EQ(1, fake.moves);
	EXPECT_EQ(1, stats().realloc_remaps);
	EXPECT_EQ(0, stats().realloc_copies);
	EXPECT_EQ(commits + 1, fake.commits);	/* only the new tail */
	EXPECT_TRUE(check(r, 9 << 20, 9));
	EXPECT_FALSE(fake_committed(q));
	hpa_free(r);
	hpa_free(blocker);
	EXPECT_EQ(0, fake.errors);
}

TEST_F(huge, copies_only_when_the_backend_cannot_move)
{
	char *p = hpa_malloc(3 << 20), *q;

	fake.move_ok = false;
	fill(p, 3 << 20, 3);
	ASSERT_TRUE(hpa_arena_take_at(hpa_chunk_index(p) + 2, 1));
	q = hpa_realloc(p, 8 << 20);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(1, stats().realloc_copies);
	EXPECT_TRUE(check(q, 3 << 20, 3));
	hpa_free(q);
}

TEST_F(huge, shrink_gives_chunks_back)
{
	char *p = hpa_malloc(20 << 20), *q;
	long decommits = fake.decommits;

	q = hpa_realloc(p, 3 << 20);
	EXPECT_EQ(p, q);
	EXPECT_EQ(4 << 20, hpa_usable_size(q));
	/* Retention 0: the 8 tail chunks are unmapped at once, as one run. */
	EXPECT_EQ(decommits + 1, fake.decommits);
	EXPECT_FALSE(fake_committed(q + (4 << 20)));
	EXPECT_FALSE(fake_committed(q + (19 << 20)));
	hpa_free(q);
}

TEST_F(huge, shrink_to_small_leaves_the_chunks)
{
	char *p = hpa_malloc(5 << 20), *q;

	strcpy(p, "moved");
	q = hpa_realloc(p, 100);
	ASSERT_NE(NULL, q);
	EXPECT_NE(p, q);
	EXPECT_STREQ("moved", q);
	EXPECT_LE(hpa_usable_size(q), 112);
	EXPECT_FALSE(fake_committed(p));	/* retention 0 */
	hpa_free(q);
}

TEST_F(huge, failed_growth_keeps_the_block)
{
	char *p = hpa_malloc(3 << 20), *q;

	fill(p, 3 << 20, 5);
	fake.fail_commits = 1;
	errno = 0;
	q = hpa_realloc(p, 30 << 20);
	EXPECT_EQ(NULL, q);
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_TRUE(check(p, 3 << 20, 5));
	EXPECT_EQ(4 << 20, hpa_usable_size(p));
	hpa_free(p);
	EXPECT_EQ(0, fake.errors);
}

/*
 * errno belongs to the exported functions: the internal ones that fail
 * leave it alone and hand back NULL or a code, and every exported one that
 * fails for want of memory says ENOMEM (posix_memalign returns it instead).
 */
TEST_F(huge, internal_failures_leave_errno_alone)
{
	char *p = hpa_malloc(3 << 20);
	void *q = (void *)1;

	ASSERT_NE(NULL, p);
	fake.fail_commits = 1;
	errno = 0;
	EXPECT_EQ(NULL, hpa_huge_alloc(5 << 20, 0, -1));
	EXPECT_EQ(0, errno);
	fake.fail_commits = 1;	/* growth in place: its commit fails */
	EXPECT_EQ(-ENOMEM, hpa_huge_realloc(hpa_chunk_index(p), p, 9 << 20,
					    &q));
	EXPECT_EQ(0, errno);
	EXPECT_EQ((void *)1, q);
	fake.fail_commits = 1;
	EXPECT_EQ(NULL, hpa_alloc_aligned_node(5 << 20, 4 << 20, -1));
	EXPECT_EQ(0, errno);
	/* Beyond the reservation: refused before any commit. */
	EXPECT_EQ(NULL, hpa_alloc_aligned_node(SIZE_MAX / 2, 64, -1));
	EXPECT_EQ(0, errno);
	EXPECT_EQ(0, fake.fail_commits);
	hpa_free(p);
	EXPECT_EQ(0, fake.errors);
}

TEST_F(huge, failed_commits_are_enomem_at_every_entry_point)
{
	void *q = (void *)1;

	fake.fail_commits = 1;
	errno = 0;
	EXPECT_EQ(NULL, hpa_malloc(5 << 20));
	EXPECT_EQ(ENOMEM, errno);
	fake.fail_commits = 1;
	errno = 0;
	EXPECT_EQ(NULL, hpa_calloc(5, 1 << 20));
	EXPECT_EQ(ENOMEM, errno);
	fake.fail_commits = 1;
	errno = 0;
	EXPECT_EQ(NULL, hpa_aligned_alloc(4 << 20, 5 << 20));
	EXPECT_EQ(ENOMEM, errno);
	fake.fail_commits = 1;
	errno = 0;
	EXPECT_EQ(NULL, hpa_malloc_node(5 << 20, 1));
	EXPECT_EQ(ENOMEM, errno);
	fake.fail_commits = 1;
	errno = 0;
	EXPECT_EQ(NULL, hpa_realloc(NULL, 5 << 20));
	EXPECT_EQ(ENOMEM, errno);
	/* posix_memalign: the code is the return value, errno is kept. */
	fake.fail_commits = 1;
	errno = EDOM;
	EXPECT_EQ(ENOMEM, hpa_posix_memalign(&q, 4 << 20, 5 << 20));
	EXPECT_EQ(EDOM, errno);
	EXPECT_EQ((void *)1, q);
	EXPECT_EQ(0, fake.fail_commits);	/* each call reached a commit */
	EXPECT_EQ(0, stats().bytes_in_use);
	EXPECT_EQ(0, fake.errors);
}

/*
 * Growth that must move: the new range's commit fails (move_run's
 * -ENOMEM); or the backend cannot move and the copy's commit fails (after
 * move_run's -EOPNOTSUPP, which must not reach the caller).  Either way
 * NULL, ENOMEM, and the old block as it was.
 */
TEST_F(huge, failed_move_or_copy_keeps_the_block)
{
	char *p = hpa_malloc(3 << 20);
	size_t idx;

	ASSERT_NE(NULL, p);
	idx = hpa_chunk_index(p);
	fill(p, 3 << 20, 11);
	ASSERT_TRUE(hpa_arena_take_at(idx + 2, 1));
	fake.fail_commits = 1;
	errno = 0;
	EXPECT_EQ(NULL, hpa_realloc(p, 8 << 20));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(0, fake.fail_commits);
	EXPECT_EQ(0, fake.moves);

	fake.move_ok = false;
	fake.fail_after = 1;	/* move_run's tail commits, then the copy's fails */
	fake.fail_commits = 1;
	errno = 0;
	EXPECT_EQ(NULL, hpa_realloc(p, 8 << 20));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(0, fake.fail_commits);
	EXPECT_EQ(0, stats().realloc_copies);

	EXPECT_TRUE(check(p, 3 << 20, 11));
	EXPECT_EQ(4 << 20, hpa_usable_size(p));
	EXPECT_EQ(4 << 20, stats().bytes_in_use);
	hpa_arena_give(idx + 2, 1);
	hpa_free(p);
	EXPECT_EQ(0, stats().bytes_in_use);
	EXPECT_EQ(0, fake.errors);
}

TEST_F(huge, big_alignment_and_1g_pages)
{
	char *p = hpa_aligned_alloc(64 << 20, 3 << 20), *g;
	struct hpa_stats st;

	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, (uintptr_t)p & ((64 << 20) - 1));
	hpa_free(p);
	fake.has_1g = true;
	g = hpa_malloc(HPA_GiB + 1);
	ASSERT_NE(NULL, g);
	EXPECT_EQ(0, (uintptr_t)g & (HPA_GiB - 1));
	st = stats();
	EXPECT_EQ(1, st.huge_pages_1g);
	hpa_free(g);
	EXPECT_EQ(0, stats().huge_pages_1g);
}

TEST_F(huge, sizes_near_size_max_are_enomem)
{
	size_t sizes[] = { SIZE_MAX, SIZE_MAX - 4095, SIZE_MAX / 2,
			   (size_t)1 << 62 };
	unsigned int i;
	void *p = hpa_malloc(10);

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		errno = 0;
		EXPECT_EQ(NULL, hpa_malloc(sizes[i]));
		EXPECT_EQ(ENOMEM, errno);
		errno = 0;
		EXPECT_EQ(NULL, hpa_realloc(p, sizes[i]));
		EXPECT_EQ(ENOMEM, errno);
		errno = 0;
		EXPECT_EQ(NULL, hpa_aligned_alloc(4096, sizes[i]));
		EXPECT_EQ(ENOMEM, errno);
	}
	errno = 0;
	EXPECT_EQ(NULL, hpa_calloc(SIZE_MAX / 2, 3));
	EXPECT_EQ(ENOMEM, errno);
	hpa_free(p);
}

TEST_F(huge, dma_on_the_fake_device)
{
	uint64_t a, b;
	char *p;

	errno = 0;
	EXPECT_EQ(NULL, hpa_dma_alloc(4 << 20, -1, 0));
	EXPECT_EQ(ENODEV, errno);
	fake.dma_ok = true;
	errno = 0;
	EXPECT_EQ(NULL, hpa_dma_alloc(4 << 20, -1, 0x80));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(NULL, hpa_dma_alloc(4 << 20, 9, 0));
	EXPECT_EQ(NULL, hpa_dma_alloc(0, 0, 0));
	p = hpa_dma_alloc(3 << 20, 1, 0);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(1, fake.last_node);
	EXPECT_EQ(0, hpa_virt2phys(p, &a));
	EXPECT_EQ(0, hpa_virt2phys(p + (3 << 20) + 5, &b));
	EXPECT_EQ(a + (3 << 20) + 5, b);
	EXPECT_EQ(1, stats().dma_buffers);
	EXPECT_EQ(-EINVAL, hpa_dma_free(p + 4096));
	EXPECT_EQ(0, hpa_dma_free(p));
	EXPECT_EQ(-EINVAL, hpa_dma_free(p));
	EXPECT_EQ(-EINVAL, hpa_virt2phys(NULL, &a));
	EXPECT_EQ(0, stats().dma_buffers);
}

/* Default retention: a loop of big blocks must reuse what it committed. */
FIXTURE(big_loop) {};
FIXTURE_SETUP(big_loop)
{
	fake_install();
	unsetenv("HPALLOC_RETAIN");
	hpa_init_slow();
}
FIXTURE_TEARDOWN(big_loop) {}

/* Fresh commits on every backend: a heap's first segments are on 4 KiB. */
static uint64_t all_maps(const struct hpa_stats *st)
{
	uint64_t n = 0;
	int b;

	for (b = 0; b < HPA_BACKEND_MAX; b++)
		n += st->per_backend[b].maps;
	return n;
}

TEST_F(big_loop, reuses_committed_memory)
{
	enum { LIVE = 8, ROUNDS = 2000 };
	void *slot[LIVE] = { 0 };
	uint64_t s = 12345, maps0, maps;
	struct hpa_stats st;
	int i;

	/* 256 KiB to 8 MiB, a few live at a time. */
	st = stats();
	maps0 = all_maps(&st);
	for (i = 0; i < ROUNDS; i++) {
		unsigned int k = (unsigned int)(s % LIVE);
		size_t size;

		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		size = (256 << 10) + (size_t)((s >> 33) % (8 << 20));
		hpa_free(slot[k]);
		slot[k] = hpa_malloc(size);
		ASSERT_NE(NULL, slot[k]);
		((char *)slot[k])[size - 1] = 1;
	}
	st = stats();
	maps = all_maps(&st) - maps0;
	/*
	 * Peak live: 8 blocks of at most 5 chunks, plus a few segments for
	 * the blocks of up to 1 MiB; the 64 MiB retained cannot hold all of
	 * that, so the first rounds commit.  Before runs merged and remnants
	 * went back to the chunk lists this loop committed fresh memory for
	 * 1182 of its 2000 allocations.
	 */
	TH_LOG("%llu fresh commits for %d allocations",
	       (unsigned long long)maps, ROUNDS);
	EXPECT_LE(maps, 48);
	EXPECT_EQ(maps, (uint64_t)fake.commits);
	EXPECT_LE(st.bytes_retained, 64 << 20);
	for (i = 0; i < LIVE; i++)
		hpa_free(slot[i]);
	EXPECT_EQ(0, fake.errors);
}

/* A freed run too small for the next block grows into the space after it. */
TEST_F(big_loop, a_cached_run_grows_after_itself)
{
	char *p = hpa_malloc(8 << 20), *q;
	uint64_t bytes, kept;

	ASSERT_NE(NULL, p);
	fill(p, 8 << 20, 3);
	hpa_free(p);
	kept = stats().bytes_retained;
	EXPECT_LE(8 << 20, kept);
	bytes = fake.commit_bytes;
	q = hpa_malloc(12 << 20);
	EXPECT_EQ(p, q);
	/* Only the 4 MiB the run lacked were committed. */
	EXPECT_EQ(4 << 20, fake.commit_bytes - bytes);
	EXPECT_EQ(kept - (8 << 20), stats().bytes_retained);
	EXPECT_TRUE(check(q, 8 << 20, 3));
	EXPECT_TRUE(fake_committed(q + (12 << 20) - 1));
	hpa_free(q);
	EXPECT_EQ(0, fake.errors);
}

/* A growth whose commit fails leaves the run cached and the space free. */
TEST_F(big_loop, a_failed_growth_keeps_the_run)
{
	char *p = hpa_malloc(8 << 20), *q, *r;
	size_t idx;
	uint64_t kept;

	ASSERT_NE(NULL, p);
	idx = hpa_chunk_index(p);
	fill(p, 8 << 20, 4);
	hpa_free(p);
	kept = stats().bytes_retained;
	fake.fail_commits = 1;
	q = hpa_malloc(12 << 20);	/* committed fresh elsewhere */
	ASSERT_NE(NULL, q);
	EXPECT_NE(p, q);
	EXPECT_EQ(kept, stats().bytes_retained);
	EXPECT_TRUE(hpa_arena_take_at(idx + 4, 2));
	hpa_arena_give(idx + 4, 2);
	r = hpa_malloc(8 << 20);
	EXPECT_EQ(p, r);
	EXPECT_TRUE(check(r, 8 << 20, 4));
	hpa_free(r);
	hpa_free(q);
	EXPECT_EQ(0, fake.errors);
}

/*
 * With the space after it taken, into the space before it; calloc then
 * zeroes the whole block although its first chunk is fresh.
 */
TEST_F(big_loop, a_cached_run_grows_before_itself_and_calloc_zeroes_it)
{
	char *p = hpa_malloc(8 << 20), *q;
	size_t idx, i;
	uint64_t bytes;

	ASSERT_NE(NULL, p);
	idx = hpa_chunk_index(p);
	ASSERT_TRUE(hpa_arena_take_at(idx + 4, 2));
	memset(p, 0x5a, 8 << 20);
	hpa_free(p);
	bytes = fake.commit_bytes;
	q = hpa_calloc(1, 12 << 20);
	EXPECT_EQ(p - (4 << 20), q);
	EXPECT_EQ(4 << 20, fake.commit_bytes - bytes);
	for (i = 0; i < 12 << 20; i += 4096)
		if (q[i] || q[i + 4095])
			break;
	EXPECT_EQ(12 << 20, i);
	hpa_free(q);
	hpa_arena_give(idx + 4, 2);
	EXPECT_EQ(0, fake.errors);
}

/*
 * Big blocks of 5 to 25 MiB, 20 live (mimalloc-bench's malloc-large): what
 * is in use is far above the 64 MiB default, so a freed block is kept for
 * the next one only because unset retention follows the memory in use.
 * What the loop commits in all, and the most its blocks held at once
 * (whole chunks), go to *committed and *live.
 */
static uint64_t big_cycle(uint64_t *committed, uint64_t *live)
{
	enum { LIVE = 20, ROUNDS = 400 };
	void *slot[LIVE] = { 0 };
	size_t held[LIVE] = { 0 };
	uint64_t s = 42, maps0, bytes0 = fake.commit_bytes, now = 0;
	struct hpa_stats st;
	int i;

	*live = 0;
	st = stats();
	maps0 = all_maps(&st);
	for (i = 0; i < ROUNDS; i++) {
		unsigned int k;
		size_t size;

		k = (unsigned int)(hpa_test_rand(&s) % LIVE);
		size = (5 << 20) + (size_t)(hpa_test_rand(&s) % (20 << 20));
		hpa_free(slot[k]);
		slot[k] = hpa_malloc(size);
		if (!slot[k])
			return UINT64_MAX;
		((char *)slot[k])[size - 1] = 1;
		now += hpa_usable_size(slot[k]) - held[k];
		held[k] = hpa_usable_size(slot[k]);
		if (now > *live)
			*live = now;
		st = stats();
		/* Never more kept than what is in use, nor than the default. */
		if (st.bytes_retained > 64 << 20 &&
		    st.bytes_retained > st.bytes_mapped - st.bytes_retained)
			return UINT64_MAX - 1;
	}
	st = stats();
	for (i = 0; i < LIVE; i++)
		hpa_free(slot[i]);
	*committed = fake.commit_bytes - bytes0;
	return all_maps(&st) - maps0;
}

TEST_F(big_loop, retention_follows_the_memory_in_use)
{
	uint64_t committed, live, maps = big_cycle(&committed, &live);

	TH_LOG("%llu fresh commits, %llu MiB, for 400 allocations; %llu MiB live at most",
	       (unsigned long long)maps, (unsigned long long)(committed >> 20),
	       (unsigned long long)(live >> 20));
	/*
	 * The first rounds commit what the 20 live blocks need, and little
	 * more: a cached run too small for a block grows into the free space
	 * next to it.  Without that: 25 commits of 500 MiB in all for 378 MiB
	 * live; with it 48 smaller ones of 432 MiB.
	 */
	EXPECT_LE(maps, 60);
	EXPECT_LE(committed, live + (64 << 20));
	EXPECT_EQ(0, fake.errors);
}

FIXTURE(big_loop_fixed) {};
FIXTURE_SETUP(big_loop_fixed)
{
	fake_install();
	setenv("HPALLOC_RETAIN", "64M", 1);
	hpa_init_slow();
}
FIXTURE_TEARDOWN(big_loop_fixed) {}

/* A retention the user gives is a fixed bound. */
TEST_F(big_loop_fixed, given_retention_is_a_fixed_bound)
{
	uint64_t committed, live, maps = big_cycle(&committed, &live);
	struct hpa_stats st = stats();

	TH_LOG("%llu fresh commits, %llu MiB, for 400 allocations",
	       (unsigned long long)maps, (unsigned long long)(committed >> 20));
	/* 104 commits of 2206 MiB before cached runs grew, 110 of 896 MiB. */
	EXPECT_GT(maps, 60);
	EXPECT_LT(maps, UINT64_MAX - 1);
	EXPECT_LE(st.bytes_retained, 64 << 20);
	EXPECT_EQ(0, fake.errors);
}

TEST_HARNESS_MAIN
