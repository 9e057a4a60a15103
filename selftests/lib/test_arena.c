// SPDX-License-Identifier: GPL-2.0
/* The VA reservation and its chunk bitmap, over the fake backend. */
#include "hpa_test.h"

FIXTURE(arena) {};
FIXTURE_SETUP(arena)
{
	fake_install();
	fake.reserve_cap = 8UL << 30;
	ASSERT_EQ(0, hpa_arena_init(8UL << 30));
}
FIXTURE_TEARDOWN(arena) {}

TEST_F(arena, reservation_is_1g_aligned)
{
	EXPECT_EQ(0, (uintptr_t)hpa_arena.base & (HPA_GiB - 1));
	EXPECT_EQ(8UL << 30, hpa_arena.size);
	EXPECT_EQ(4096, hpa_arena.nchunks);
}

TEST_F(arena, low_and_high_halves)
{
	long a = hpa_arena_take(1, 1, false), b = hpa_arena_take(1, 1, false);
	long h = hpa_arena_take(3, 1, true);

	EXPECT_EQ(0, a);
	EXPECT_EQ(1, b);
	EXPECT_EQ(2051, h);
	/* The next high run leaves room for the first to double. */
	EXPECT_GE(hpa_arena_take(3, 1, true), h + 6);
}

TEST_F(arena, alignment_and_take_at)
{
	long a = hpa_arena_take(1, 1, true), b;

	b = hpa_arena_take(512, 512, true);
	ASSERT_GE(b, 0);
	EXPECT_EQ(0, b % 512);
	EXPECT_FALSE(hpa_arena_take_at((size_t)b + 10, 1));
	EXPECT_TRUE(hpa_arena_take_at((size_t)b + 512, 4));
	EXPECT_FALSE(hpa_arena_take_at((size_t)b + 514, 1));
	hpa_arena_give((size_t)a, 1);
	EXPECT_TRUE(hpa_arena_take_at((size_t)a, 1));
}

TEST_F(arena, exhaustion_and_reuse)
{
	EXPECT_EQ(0, hpa_arena_take(2048, 1, false));
	EXPECT_EQ(2048, hpa_arena_take(2048, 1, true));
	EXPECT_EQ(-1, hpa_arena_take(1, 1, false));
	EXPECT_EQ(-1, hpa_arena_take(1, 1, true));
	hpa_arena_give(100, 3);
	EXPECT_EQ(-1, hpa_arena_take(4, 1, false));
	EXPECT_EQ(100, hpa_arena_take(3, 1, false));
	EXPECT_EQ(-1, hpa_arena_take(0, 1, false));
	EXPECT_EQ(-1, hpa_arena_take(5000, 1, false));
}

static void give_twice(void *arg)
{
	(void)arg;
	hpa_arena_give(7, 1);
	hpa_arena_give(7, 1);
}

TEST_F(arena, double_give_aborts)
{
	char buf[512];

	ASSERT_EQ(0, hpa_arena_take(8, 1, false));
	EXPECT_EQ(SIGABRT, run_child(give_twice, NULL, buf, sizeof(buf), NULL));
	EXPECT_NE(NULL, strstr(buf, "chunk 7 given back twice")) TH_LOG("%s", buf);
}

/* The chunk map's transitions, read back field by field. */
TEST_F(arena, chunk_transitions)
{
	struct hpa_commit out = { .backend = HPA_BACKEND_THP,
				  .page_shift = 21 };
	long a = hpa_arena_take(4, 1, true), b;
	int seg;

	ASSERT_GE(a, 0);
	hpa_chunks_commit((size_t)a, 4, &out, 1, true);
	EXPECT_EQ(HPA_CHUNK_CLAIMED, hpa_arena.map[a + 3].kind);
	EXPECT_EQ(HPA_BACKEND_THP, hpa_arena.map[a + 3].backend);
	EXPECT_EQ(1, hpa_arena.map[a + 3].node);
	EXPECT_EQ(1, hpa_arena.map[a + 3].bound);
	EXPECT_TRUE(hpa_chunk_take_fresh((size_t)a));
	EXPECT_FALSE(hpa_chunk_take_fresh((size_t)a));
	/* A run: the head holds length and size, the tails their head. */
	hpa_chunks_mark_huge((size_t)a, 4, 3 * HPA_CHUNK_SIZE + 1);
	EXPECT_EQ(HPA_CHUNK_HUGE, hpa_arena.map[a].kind);
	EXPECT_EQ(4, hpa_arena.map[a].nchunks);
	EXPECT_EQ(3 * HPA_CHUNK_SIZE + 1, hpa_arena.map[a].size);
	EXPECT_EQ(HPA_CHUNK_TAIL, hpa_arena.map[a + 3].kind);
	EXPECT_EQ(a, hpa_arena.map[a + 3].head);
	/* Moved entries keep backend and node at their new place. */
	b = hpa_arena_take(4, 1, true);
	ASSERT_GE(b, 0);
	hpa_chunks_move((size_t)b, (size_t)a, 4);
	hpa_arena_give((size_t)a, 4);
	EXPECT_EQ(HPA_CHUNK_FREE, hpa_arena.map[a].kind);
	EXPECT_EQ(HPA_CHUNK_HUGE, hpa_arena.map[b].kind);
	EXPECT_EQ(1, hpa_arena.map[b + 2].node);
	/* Pool and back: no longer fresh, claimed again. */
	hpa_chunks_to_pool((size_t)b, 4);
	EXPECT_EQ(HPA_CHUNK_POOL, hpa_arena.map[b + 1].kind);
	EXPECT_FALSE(hpa_chunk_take_fresh((size_t)b + 1));
	hpa_chunks_claim((size_t)b, 1);
	EXPECT_EQ(HPA_CHUNK_CLAIMED, hpa_arena.map[b].kind);
	EXPECT_EQ(HPA_CHUNK_POOL, hpa_arena.map[b + 1].kind);
	hpa_chunk_to_segment((size_t)b, &seg);
	EXPECT_EQ(HPA_CHUNK_SEGMENT, hpa_arena.map[b].kind);
	EXPECT_EQ(&seg, hpa_arena.map[b].aux);
	/* A DMA buffer: device pages, the head says so. */
	hpa_chunks_mark_dma((size_t)b + 1, 2, 12345, 77, 21, 1);
	EXPECT_EQ(HPA_CHUNK_DMA, hpa_arena.map[b + 1].kind);
	EXPECT_EQ(77, hpa_arena.map[b + 1].handle);
	EXPECT_EQ(HPA_BACKEND_DEVICE, hpa_arena.map[b + 1].backend);
	EXPECT_EQ(b + 1, hpa_arena.map[b + 2].head);
	hpa_arena_give((size_t)b, 4);
}

TEST_HARNESS_MAIN
