// SPDX-License-Identifier: GPL-2.0
/* The page pool: reuse, retention limit, failures, node binding. */
#include "hpa_test.h"

FIXTURE(pool) {};
FIXTURE_SETUP(pool)
{
	fake_install();
	setenv("HPALLOC_RETAIN", "4M", 1);
	hpa_init_slow();
}
FIXTURE_TEARDOWN(pool) {}

TEST_F(pool, retains_up_to_the_limit)
{
	long idx[4];
	uint64_t retained;
	int i;

	EXPECT_EQ(4 << 20, hpa_option_int(HPA_OPT_RETAIN));
	for (i = 0; i < 4; i++) {
		idx[i] = hpa_pool_get(0, false);
		ASSERT_GE(idx[i], 0);
		EXPECT_TRUE(fake_committed(hpa_chunk_addr((size_t)idx[i])));
	}
	EXPECT_EQ(4, fake.commits);
	for (i = 0; i < 4; i++)
		hpa_pool_put((size_t)idx[i]);
	hpa_pool_stats(&retained);
	EXPECT_EQ(4 << 20, retained);
	EXPECT_EQ(2, fake.decommits);
	EXPECT_FALSE(fake_committed(hpa_chunk_addr((size_t)idx[2])));
	/* Retained chunks are reused without a new commit. */
	EXPECT_GE(hpa_pool_get(0, false), 0);
	EXPECT_EQ(4, fake.commits);
	EXPECT_EQ(0, fake.errors);
}

TEST_F(pool, commit_failure_is_enomem)
{
	fake.fail_commits = 1;
	errno = 0;
	EXPECT_EQ(-ENOMEM, hpa_pool_get(0, false));
	EXPECT_EQ(0, errno);		/* internal: -errno, errno untouched */
	/* The address range went back: the next get succeeds at index 0. */
	EXPECT_EQ(0, hpa_pool_get(0, false));
}

/*
 * HPALLOC_RETAIN and the other sizes are parsed inside the first malloc:
 * strtoull's errno protocol must not leak into the caller's errno.
 */
TEST_F(pool, size_options_parse_without_touching_errno)
{
	errno = EDOM;
	EXPECT_EQ(4 << 20, hpa_parse_size("4M"));
	EXPECT_EQ(EDOM, errno);
	EXPECT_EQ(-1, hpa_parse_size("99999999999999999999999"));
	EXPECT_EQ(EDOM, errno);
	EXPECT_EQ(-1, hpa_parse_size("12x"));
	EXPECT_EQ(EDOM, errno);
}

TEST_F(pool, fallbacks_and_bytes_are_counted)
{
	struct hpa_stats st = { .size = sizeof(st) };

	fake.report_fallback = true;
	ASSERT_GE(hpa_pool_get(0, false), 0);
	ASSERT_EQ(0, hpa_stats(&st));
	EXPECT_EQ(1, st.fallbacks);
	EXPECT_EQ(HPA_CHUNK_SIZE, st.bytes_mapped);
	EXPECT_EQ(HPA_CHUNK_SIZE, st.per_backend[HPA_BACKEND_THP].bytes_mapped);
	EXPECT_EQ(HPA_CHUNK_SIZE, st.node_bytes[0]);
	EXPECT_EQ(1, st.huge_pages_2m);
}

TEST_F(pool, bound_chunks_stay_on_their_node)
{
	long a, b;

	a = hpa_pool_get(1, true);
	ASSERT_GE(a, 0);
	EXPECT_EQ(1, fake.last_node);
	hpa_pool_put((size_t)a);
	/* An unbound request on node 0 does not get node 1's chunk. */
	b = hpa_pool_get(0, false);
	EXPECT_NE(a, b);
	EXPECT_EQ(-1, fake.last_node);
	/* A bound request on node 1 reuses it. */
	EXPECT_EQ(a, hpa_pool_get(1, true));
	/* A bound request never takes an unbound chunk. */
	hpa_pool_put((size_t)b);
	EXPECT_NE(b, hpa_pool_get(0, true));
}

/*
 * bytes_retained follows the chunks the lists hold, whoever asks: a bound
 * request that pops an unbound chunk and puts it back leaves it unchanged.
 */
TEST_F(pool, retained_follows_bound_and_unbound_gets)
{
	struct hpa_stats st = { .size = sizeof(st) };
	uint64_t retained;
	long u, k1, k2;

	u = hpa_pool_get(0, false);
	ASSERT_GE(u, 0);
	hpa_pool_put((size_t)u);
	hpa_pool_stats(&retained);
	EXPECT_EQ(2 << 20, retained);
	/* Two bound requests: each skips u and commits a fresh chunk. */
	k1 = hpa_pool_get(0, true);
	ASSERT_GE(k1, 0);
	EXPECT_NE(u, k1);
	hpa_pool_stats(&retained);
	EXPECT_EQ(2 << 20, retained);
	k2 = hpa_pool_get(0, true);
	ASSERT_GE(k2, 0);
	EXPECT_NE(u, k2);
	hpa_pool_stats(&retained);
	EXPECT_EQ(2 << 20, retained);
	/* u is still kept, not given back. */
	EXPECT_TRUE(fake_committed(hpa_chunk_addr((size_t)u)));
	EXPECT_EQ(0, fake.decommits);
	/* k1 fills the 4 MiB limit; k2 goes back to the OS. */
	hpa_pool_put((size_t)k1);
	hpa_pool_stats(&retained);
	EXPECT_EQ(4 << 20, retained);
	hpa_pool_put((size_t)k2);
	hpa_pool_stats(&retained);
	EXPECT_EQ(4 << 20, retained);
	EXPECT_EQ(1, fake.decommits);
	ASSERT_EQ(0, hpa_stats(&st));
	EXPECT_EQ(4 << 20, st.bytes_retained);
	/* Unbound gets empty the list; retained drops to zero. */
	EXPECT_GE(hpa_pool_get(0, false), 0);
	EXPECT_GE(hpa_pool_get(0, false), 0);
	hpa_pool_stats(&retained);
	EXPECT_EQ(0, retained);
	EXPECT_EQ(3, fake.commits);
	EXPECT_EQ(0, fake.errors);
}

TEST_F(pool, runs_are_reused_best_fit_and_split)
{
	long a = hpa_arena_take(1, 1, true), b = hpa_arena_take(1, 1, true);
	long r;

	/* Two committed runs of 1 and 3 chunks... but retention is 4M. */
	ASSERT_EQ(0, hpa_pool_commit((size_t)a, 1, 0, false, false));
	hpa_arena_give((size_t)b, 1);
	b = hpa_arena_take(3, 1, true);
	ASSERT_GE(b, 0);
	ASSERT_EQ(0, hpa_pool_commit((size_t)b, 3, 0, false, false));
	hpa_pool_put_run((size_t)b, 3);		/* 6 MiB > 4 MiB: unmapped */
	EXPECT_EQ(1, fake.decommits);
	EXPECT_EQ(-1, hpa_pool_get_run(2, 0, false));
	b = hpa_arena_take(2, 1, true);
	ASSERT_EQ(0, hpa_pool_commit((size_t)b, 2, 0, false, false));
	hpa_pool_put_run((size_t)b, 2);		/* kept */
	EXPECT_EQ(1, fake.decommits);
	/* A bound request does not take an unbound run. */
	EXPECT_EQ(-1, hpa_pool_get_run(1, 0, true));
	r = hpa_pool_get_run(1, 0, false);	/* split: first half */
	EXPECT_EQ(b, r);
	/* The one-chunk remnant went to the chunk lists, not the cache. */
	EXPECT_EQ(-1, hpa_pool_get_run(1, 0, false));
	EXPECT_EQ(b + 1, hpa_pool_get(0, false));
	EXPECT_EQ(0, fake.errors);
}

/* The run cache with room to work: 64 MiB retained. */
FIXTURE(runs) {};
FIXTURE_SETUP(runs)
{
	fake_install();
	setenv("HPALLOC_RETAIN", "64M", 1);
	hpa_init_slow();
}
FIXTURE_TEARDOWN(runs) {}

static long committed_run(size_t n)
{
	long idx = hpa_arena_take(n, 1, true);

	if (idx >= 0 && hpa_pool_commit((size_t)idx, n, 0, false, false))
		return -1;
	return idx;
}

TEST_F(runs, neighbours_merge)
{
	long a = committed_run(4), commits;

	ASSERT_GE(a, 0);
	commits = fake.commits;
	/* Two halves given back apart come back as one run. */
	hpa_pool_put_run((size_t)a + 2, 2);
	hpa_pool_put_run((size_t)a, 2);
	EXPECT_EQ(a, hpa_pool_get_run(4, 0, false));
	EXPECT_EQ(commits, fake.commits);
	EXPECT_EQ(0, fake.decommits);
	EXPECT_EQ(0, fake.errors);
}

TEST_F(runs, lists_chunks_make_a_run)
{
	long a = committed_run(3), commits;
	size_t i;

	ASSERT_GE(a, 0);
	commits = fake.commits;
	/* Single chunks next to each other in the lists serve a run. */
	hpa_chunks_claim((size_t)a, 3);
	for (i = 0; i < 3; i++)
		hpa_pool_put((size_t)a + i);
	EXPECT_EQ(a, hpa_pool_get_run(3, 0, false));
	EXPECT_EQ(commits, fake.commits);
	/* They left the lists: a chunk now is a fresh one. */
	EXPECT_GE(hpa_pool_get(0, false), 0);
	EXPECT_EQ(commits + 1, fake.commits);
	EXPECT_EQ(0, fake.errors);
}

TEST_F(runs, single_chunks_come_from_cached_runs)
{
	long a = committed_run(8), commits;

	ASSERT_GE(a, 0);
	commits = fake.commits;
	hpa_pool_put_run((size_t)a, 8);
	/* The chunk lists are empty: a segment's chunk is cut off the run. */
	EXPECT_EQ(a, hpa_pool_get(0, false));
	EXPECT_EQ(a + 1, hpa_pool_get_run(7, 0, false));
	EXPECT_EQ(commits, fake.commits);
	EXPECT_EQ(0, fake.errors);
}

TEST_F(runs, remnants_do_not_starve_retention)
{
	long small[8], big, commits;
	uint64_t retained;
	int i;

	/* 8 runs of 4 chunks hold the whole 64 MiB budget... */
	for (i = 0; i < 8; i++) {
		small[i] = committed_run(4);
		ASSERT_GE(small[i], 0);
		/* Keep them apart so that they do not merge. */
		ASSERT_GE(committed_run(1), 0);
	}
	big = committed_run(16);
	ASSERT_GE(big, 0);
	for (i = 0; i < 8; i++)
		hpa_pool_put_run((size_t)small[i], 4);
	hpa_pool_stats(&retained);
	EXPECT_EQ(64 << 20, retained);
	/* ...and a bigger run given back evicts smaller ones, not itself. */
	hpa_pool_put_run((size_t)big, 16);
	hpa_pool_stats(&retained);
	EXPECT_EQ(64 << 20, retained);
	EXPECT_EQ(4, fake.decommits);
	commits = fake.commits;
	EXPECT_EQ(big, hpa_pool_get_run(16, 0, false));
	EXPECT_EQ(commits, fake.commits);
	EXPECT_EQ(0, fake.errors);
}

TEST_HARNESS_MAIN
