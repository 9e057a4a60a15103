// SPDX-License-Identifier: GPL-2.0
/* Segments: cutting a 2 MiB chunk into pages, finding a block's page. */
#include "hpa_test.h"

FIXTURE(seg) {
	struct hpa_segment *seg;
	char *base;
};
FIXTURE_SETUP(seg)
{
	struct hpa_commit out;
	long idx;

	fake_install();
	hpa_sizeclass_init();
	ASSERT_EQ(0, hpa_arena_init(4UL << 30));
	idx = hpa_arena_take(1, 1, false);
	ASSERT_GE(idx, 0);
	ASSERT_EQ(0, hpa_prim->commit(hpa_chunk_addr((size_t)idx),
				      HPA_CHUNK_SIZE, -1, false, &out));
	self->base = hpa_chunk_addr((size_t)idx);
	self->seg = aligned_alloc(64, sizeof(*self->seg));
	ASSERT_NE(NULL, self->seg);
	hpa_segment_init(self->seg, self->base, NULL, 0);
	hpa_chunk_to_segment((size_t)idx, self->seg);
}
FIXTURE_TEARDOWN(seg)
{
	free(self->seg);
}

TEST_F(seg, fills_all_32_units_of_a_small_class)
{
	struct hpa_page *pg;
	int n = 0;

	while ((pg = hpa_segment_page_new(self->seg, 0))) {
		EXPECT_EQ(16, pg->block_size);
		EXPECT_EQ(HPA_MAX_BLOCKS, hpa_classes[0].blocks);
		EXPECT_EQ(0, pg->limit);	/* nothing handed out yet */
		EXPECT_EQ(0, (uintptr_t)pg->start & (HPA_UNIT_SIZE - 1));
		n++;
	}
	EXPECT_EQ(HPA_UNITS, n);
	EXPECT_EQ(0, self->seg->free_units);
	EXPECT_FALSE(hpa_segment_empty(self->seg));
}

TEST_F(seg, page_of_and_block_index)
{
	unsigned int cls = hpa_size_class(90000);	/* 3 blocks, 5 units */
	struct hpa_page *pg = hpa_segment_page_new(self->seg, cls);
	struct hpa_page *small = hpa_segment_page_new(self->seg, 3);
	char *p;

	ASSERT_NE(NULL, pg);
	ASSERT_NE(NULL, small);
	ASSERT_GT(pg->units, 1);
	ASSERT_EQ(3, hpa_classes[cls].blocks);
	ASSERT_EQ(5, pg->units);
	p = pg->start + pg->block_size;
	EXPECT_EQ(pg, hpa_segment_page_of(self->seg, p));
	EXPECT_EQ(pg, hpa_segment_page_of(self->seg, pg->start +
					  2 * HPA_UNIT_SIZE + 5));
	/* Only blocks below the frontier count as blocks of the page. */
	EXPECT_EQ(-1, hpa_page_block_index(pg, pg->start));
	pg->limit = 2;
	EXPECT_EQ(0, hpa_page_block_index(pg, pg->start));
	EXPECT_EQ(1, hpa_page_block_index(pg, p));
	EXPECT_EQ(-1, hpa_page_block_index(pg, p + pg->block_size));
	pg->limit = 3;
	EXPECT_EQ(2, hpa_page_block_index(pg, p + pg->block_size));
	EXPECT_EQ(-1, hpa_page_block_index(pg, p + 16));
	EXPECT_EQ(-1, hpa_page_block_index(pg, pg->start +
			(size_t)hpa_classes[cls].blocks * pg->block_size));
	EXPECT_EQ(small, hpa_segment_page_of(self->seg, small->start + 64));
	/* The header is not in the chunk: the first page starts at unit 0. */
	EXPECT_EQ(self->base, pg->start);
	EXPECT_EQ(self->seg, hpa_segment_of(pg->start + 100));
	EXPECT_EQ(NULL, hpa_segment_page_of(self->seg, self->base +
					    (HPA_UNITS - 1) * HPA_UNIT_SIZE));
}

/*
 * The block-start test (hpa_page_block_rot), for every class and every
 * byte offset of the largest page span, 2 MiB: a block start gives its
 * index, anything else a number above every block count a page of any
 * span can have (at least (2^64 - 1) / (odd part * 2^20)); so one compare
 * with blocks accepts exactly the page's block starts.
 */
TEST_F(seg, block_start_test_is_exact_for_every_class_and_offset)
{
	unsigned int cls;

	for (cls = 0; cls < HPA_NCLASSES; cls++) {
		struct hpa_page *pg = hpa_segment_page_new(self->seg, cls);
		uint64_t size, odd, floor_bad, off, bad = 0, wrong = 0;

		ASSERT_NE(NULL, pg);
		pg->limit = hpa_classes[cls].blocks;	/* all handed out */
		size = pg->block_size;
		odd = size >> __builtin_ctzll(size);
		floor_bad = UINT64_MAX / (odd << HPA_DIV_ROT);
		ASSERT_GT(floor_bad, (uint64_t)HPA_MAX_BLOCKS);
		for (off = 0; off < HPA_CHUNK_SIZE; off++) {
			char *p = pg->start + off;
			uint64_t rot = hpa_page_block_rot(pg, p);
			long idx = hpa_page_block_index(pg, p);
			bool start = off % size == 0;

			if (start ? rot != off / size : rot <= floor_bad)
				bad++;
			if (idx != (start && off / size < pg->limit ?
				    (long)(off / size) : -1))
				wrong++;
		}
		EXPECT_EQ(0, bad) TH_LOG("class %u (size %lu): %lu offsets",
					 cls, (unsigned long)size,
					 (unsigned long)bad);
		EXPECT_EQ(0, wrong) TH_LOG("class %u (size %lu): %lu indexes",
					   cls, (unsigned long)size,
					   (unsigned long)wrong);
		hpa_segment_page_free(self->seg, pg);
		ASSERT_TRUE(hpa_segment_empty(self->seg));
	}
}

TEST_F(seg, two_1mib_pages_fill_a_segment)
{
	unsigned int cls = hpa_size_class(1UL << 20);
	struct hpa_page *a = hpa_segment_page_new(self->seg, cls);
	struct hpa_page *b = hpa_segment_page_new(self->seg, cls);

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(16, a->units);
	EXPECT_EQ(self->base + HPA_CHUNK_SIZE / 2, b->start);
	EXPECT_EQ(0, self->seg->free_units);
	EXPECT_EQ(NULL, hpa_segment_page_new(self->seg, 0));
}

TEST_F(seg, freed_units_are_reused)
{
	struct hpa_page *a = hpa_segment_page_new(self->seg, 40);
	unsigned int units = a->units;
	char *start = a->start;
	struct hpa_page *b;

	hpa_segment_page_free(self->seg, a);
	EXPECT_TRUE(hpa_segment_empty(self->seg));
	EXPECT_EQ(NULL, hpa_segment_page_of(self->seg, start));
	b = hpa_segment_page_new(self->seg, 40);
	EXPECT_EQ(start, b->start);
	EXPECT_EQ(units, b->units);
}

/* The first run of free units a page fits, in a segment full of holes. */
static int first_fit(uint32_t free, unsigned int k)
{
	uint32_t mask = k >= 32 ? ~0U : (1U << k) - 1;
	unsigned int s;

	for (s = 0; s + k <= HPA_UNITS; s++)
		if (((free >> s) & mask) == mask)
			return (int)s;
	return -1;
}

TEST_F(seg, pages_take_the_first_run_that_fits)
{
	struct hpa_page *one[HPA_UNITS];
	uint64_t r = 88172645463325252ULL;
	unsigned int u, cls, round;

	/* Every unit a page of one unit, then a random half freed. */
	for (round = 0; round < 200; round++) {
		hpa_segment_init(self->seg, self->base, NULL, 0);
		for (u = 0; u < HPA_UNITS; u++)
			ASSERT_NE(NULL, one[u] = hpa_segment_page_new(
						self->seg, 0));
		for (u = 0; u < HPA_UNITS; u++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			if (r & 1)
				hpa_segment_page_free(self->seg, one[u]);
		}
		for (cls = 0; cls < HPA_NCLASSES; cls++) {
			uint32_t free = self->seg->free_units;
			unsigned int k = hpa_classes[cls].units;
			int want = first_fit(free, k);
			struct hpa_page *pg = hpa_segment_page_new(self->seg,
								   cls);

			if (want < 0) {
				EXPECT_EQ(NULL, pg) TH_LOG("%u units in %08x",
							   k, free);
				continue;
			}
			ASSERT_NE(NULL, pg);
			EXPECT_EQ(self->base + (size_t)want * HPA_UNIT_SIZE,
				  pg->start) TH_LOG("%u units in %08x", k, free);
			EXPECT_EQ(free & ~(((k >= 32 ? ~0U : (1U << k) - 1))
					   << want), self->seg->free_units);
			hpa_segment_page_free(self->seg, pg);
		}
	}
}

TEST_F(seg, bitmap_marks_exactly_the_blocks)
{
	unsigned int cls = hpa_size_class(160);
	struct hpa_page *pg = hpa_segment_page_new(self->seg, cls);
	unsigned int i, bits = 0;

	for (i = 0; i < HPA_BITMAP_WORDS; i++)
		bits += (unsigned int)__builtin_popcountll(pg->free_map[i]);
	EXPECT_EQ(hpa_classes[cls].blocks, bits);
	EXPECT_EQ(65536 / 160, hpa_classes[cls].blocks);
}

TEST_HARNESS_MAIN
