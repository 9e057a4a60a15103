// SPDX-License-Identifier: GPL-2.0
/* Size classes: coverage, spacing, internal waste, page geometry. */
#include "hpa_test.h"

FIXTURE(classes) {};
FIXTURE_SETUP(classes) { hpa_sizeclass_init(); }
FIXTURE_TEARDOWN(classes) {}

TEST_F(classes, sizes_increase_and_align)
{
	unsigned int c;

	ASSERT_EQ(HPA_NCLASSES, hpa_size_classes());
	for (c = 0; c < HPA_NCLASSES; c++) {
		EXPECT_EQ(0, hpa_classes[c].size % HPA_ALIGN);
		EXPECT_EQ(hpa_classes[c].size, hpa_class_size(c));
		if (c)
			EXPECT_LT(hpa_classes[c - 1].size, hpa_classes[c].size);
	}
	EXPECT_EQ(HPA_SMALL_MAX, hpa_classes[HPA_NCLASSES - 1].size);
	EXPECT_EQ(0, hpa_class_size(HPA_NCLASSES));
}

/* Every size maps to the smallest class that holds it. */
TEST_F(classes, size_to_class_is_tight)
{
	size_t s;

	for (s = 0; s <= HPA_SMALL_MAX; s += (s < 65536 ? 1 : 61)) {
		unsigned int c = hpa_size_class(s);

		ASSERT_LT(c, HPA_NCLASSES) TH_LOG("size %zu", s);
		ASSERT_GE(hpa_classes[c].size, s) TH_LOG("size %zu", s);
		if (c)
			ASSERT_LT(hpa_classes[c - 1].size, s ? s : 1)
				TH_LOG("size %zu class %u", s, c);
	}
}

/* Worst case 25% above 128 bytes; report the average. */
TEST_F(classes, internal_waste)
{
	double worst = 0, sum = 0;
	size_t s, n = 0;

	for (s = 1; s <= HPA_SMALL_MAX; s += (s < 8192 ? 1 : 97)) {
		double w = (double)(hpa_classes[hpa_size_class(s)].size - s) /
			   (double)hpa_classes[hpa_size_class(s)].size;

		if (s > 128 && w > worst)
			worst = w;
		sum += w;
		n++;
	}
	ksft_print_msg("internal waste: worst %.1f%% (sizes > 128), "
		       "average %.1f%%\n", worst * 100, sum / (double)n * 100);
	EXPECT_LE(worst, 0.25);
	EXPECT_LE(sum / (double)n, 0.15);
}

TEST_F(classes, page_geometry)
{
	unsigned int c;

	for (c = 0; c < HPA_NCLASSES; c++) {
		const struct hpa_class *k = &hpa_classes[c];
		uint64_t bytes = (uint64_t)k->units * HPA_UNIT_SIZE;

		EXPECT_GE(k->units, 1);
		EXPECT_LT(k->units, HPA_UNITS);
		EXPECT_GE(k->blocks, 1);
		EXPECT_LE(k->blocks, HPA_MAX_BLOCKS);
		EXPECT_LE((uint64_t)k->blocks * k->size, bytes);
		/* The tail of a page wastes at most 1/8 (bitmap cap aside). */
		if (k->blocks < HPA_MAX_BLOCKS)
			EXPECT_LE((bytes - (uint64_t)k->blocks * k->size) * 8,
				  bytes) TH_LOG("class %u", c);
		/*
		 * Enough blocks a page that a class's pages are not carved
		 * and released at every malloc and free.
		 */
		if ((uint64_t)k->size * HPA_PAGE_MIN_BLOCKS <=
		    (uint64_t)HPA_PAGE_MIN_BLOCKS_UNITS * HPA_UNIT_SIZE)
			EXPECT_GE(k->blocks, HPA_PAGE_MIN_BLOCKS)
				TH_LOG("class %u: %u blocks of %u", c,
				       k->blocks, k->size);
	}
}

TEST_HARNESS_MAIN
