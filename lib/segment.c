// SPDX-License-Identifier: MIT
/*
 * A segment is one 2 MiB chunk owned by one heap, its 32 units of 64 KiB
 * cut into pages, each a run of units holding blocks of one size class.
 * The header is not in the chunk: the chunk map entry points to it.  A
 * block's page is found from its address: segment = the chunk map entry's
 * header, unit = (offset in the chunk) >> 16, and unit_page[] names the
 * page each unit belongs to; the arena's unit map (hpa_arena.pages) holds
 * the same, indexed by address, for free's fast path.
 */
#include <string.h>

#include "internal.h"

_Static_assert(HPA_BITMAP_WORDS <= 64, "nonempty has a bit per word");

void hpa_segment_init(struct hpa_segment *seg, char *base,
		      struct hpa_heap *heap, int node)
{
	memset(seg, 0, sizeof(*seg));
	seg->heap = heap;
	seg->base = base;
	seg->free_units = HPA_SEG_ALL_FREE;
	seg->node = node;
}

/* The reservation's unit number of unit u of seg, for the unit map. */
static size_t unit_index(const struct hpa_segment *seg, unsigned int u)
{
	return (((uintptr_t)seg->base - (uintptr_t)hpa_arena.base) >>
		HPA_UNIT_SHIFT) + u;
}

static void page_init(struct hpa_page *pg, char *start, unsigned int cls,
		      unsigned int units)
{
	const struct hpa_class *c = &hpa_classes[cls];
	unsigned int full_words = c->blocks / 64, rest = c->blocks % 64;

	memset(pg, 0, sizeof(*pg));
	memset(pg->free_map, 0xff, full_words * sizeof(uint64_t));
	if (rest)
		pg->free_map[full_words] = (1ULL << rest) - 1;
	pg->nonempty = (full_words + (rest != 0) >= 64) ? ~0ULL :
		       (1ULL << (full_words + (rest != 0))) - 1;
	pg->start = start;
	pg->block_size = c->size;
	pg->div_magic = hpa_div_magic(c->size);
	pg->cookie = hpa_free_cookie;
	pg->cls = (uint8_t)cls;
	pg->units = (uint8_t)units;
}

/*
 * The lowest run of k free units of free: bit s of the result is set when
 * units s to s + k - 1 all are (k - 1 shifts and ands, done by doubling).
 */
static uint32_t free_runs(uint32_t free, unsigned int k)
{
	unsigned int len = 1, sh;

	while (len < k) {
		sh = len < k - len ? len : k - len;
		free &= free >> sh;
		len += sh;
	}
	return free;
}

struct hpa_page *hpa_segment_page_new(struct hpa_segment *seg,
				      unsigned int cls)
{
	unsigned int k = hpa_classes[cls].units, s, u;
	uint32_t mask = (k >= 32) ? ~0U : (1U << k) - 1;
	uint32_t runs = free_runs(seg->free_units, k);

	if (!runs)
		return NULL;
	s = (unsigned int)__builtin_ctz(runs);
	seg->free_units &= ~(mask << s);
	for (u = s; u < s + k; u++) {
		seg->unit_page[u] = &seg->pages[s];
		hpa_unit_page_set(unit_index(seg, u), &seg->pages[s]);
	}
	page_init(&seg->pages[s], seg->base + ((size_t)s << HPA_UNIT_SHIFT),
		  cls, k);
	return &seg->pages[s];
}

void hpa_segment_page_free(struct hpa_segment *seg, struct hpa_page *pg)
{
	unsigned int s = (unsigned int)(pg - seg->pages);
	uint32_t mask = (pg->units >= 32) ? ~0U : (1U << pg->units) - 1;
	unsigned int u;

	for (u = s; u < s + pg->units; u++) {
		seg->unit_page[u] = NULL;
		hpa_unit_page_set(unit_index(seg, u), NULL);
	}
	seg->free_units |= mask << s;
	pg->units = 0;
}
