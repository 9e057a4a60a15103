// SPDX-License-Identifier: MIT
/*
 * Size classes: 16-byte steps up to 128 bytes, then four classes per power
 * of two up to 1 MiB, so a block wastes at most 25% (20% average) of its
 * size inside, and requests up to 128 bytes waste at most 15 bytes.
 * hpa_size_class() in internal.h: a byte table up to 1 KiB, above it a
 * count-leading-zeros formula.
 *
 * A page of a class is a run of 64 KiB units; the run is the shortest that
 * holds a whole number of blocks wasting at most 1/8 of the run at its end
 * (bitmaps hold at most HPA_MAX_BLOCKS blocks), and at least
 * HPA_PAGE_MIN_BLOCKS blocks where a run of up to HPA_PAGE_MIN_BLOCKS_UNITS
 * units can (internal.h).
 */
#include "internal.h"

struct hpa_class hpa_classes[HPA_NCLASSES];

/* hpa_size_class() of sizes up to 1024, by (size + 15) / 16: one load. */
const uint8_t hpa_class_by_16[65] = {
	0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 9, 10, 10, 11,
	11, 12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15,
	15, 16, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, 17, 17, 17,
	17, 18, 18, 18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19,
	19,
};

static uint32_t class_block_size(unsigned int c)
{
	unsigned int b, sub;

	if (c < 8)
		return (c + 1) * 16;
	b = (c - 8) / 4 + 7;
	sub = (c - 8) % 4;
	return (4 + sub + 1) << (b - 2);
}

uint16_t hpa_class_off_by_16[65];

void hpa_sizeclass_init(void)
{
	unsigned int c, k;

	_Static_assert(offsetof(struct hpa_heap, cls) == 0 &&
		       sizeof(struct hpa_class_list) * 20 <= UINT16_MAX,
		       "class list offsets fit the table");
	for (c = 0; c <= 64; c++) {
		if (hpa_class_by_16[c] != hpa_size_class_calc(c ? c * 16 : 1))
			hpa_fatal("size class table disagrees at %u\n", c * 16);
		hpa_class_off_by_16[c] = (uint16_t)(hpa_class_by_16[c] *
					sizeof(struct hpa_class_list));
	}
	for (c = 0; c < HPA_NCLASSES; c++) {
		uint32_t size = class_block_size(c);

		for (k = 1; k < HPA_UNITS; k++) {
			uint64_t bytes = (uint64_t)k * HPA_UNIT_SIZE;
			uint64_t n = bytes / size;

			if (n > HPA_MAX_BLOCKS)
				n = HPA_MAX_BLOCKS;
			if (n >= 1 && (bytes - n * size) * 8 <= bytes &&
			    (n >= HPA_PAGE_MIN_BLOCKS ||
			     k >= HPA_PAGE_MIN_BLOCKS_UNITS))
				break;
		}
		hpa_classes[c].size = size;
		hpa_classes[c].units = (uint16_t)k;
		hpa_classes[c].blocks = (uint16_t)(((uint64_t)k * HPA_UNIT_SIZE /
				size) > HPA_MAX_BLOCKS ? HPA_MAX_BLOCKS :
				(uint64_t)k * HPA_UNIT_SIZE / size);
	}
}

HPA_EXPORT unsigned int hpa_size_classes(void)
{
	return HPA_NCLASSES;
}

HPA_EXPORT size_t hpa_class_size(unsigned int i)
{
	return i < HPA_NCLASSES ? class_block_size(i) : 0;
}
