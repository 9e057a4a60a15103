// SPDX-License-Identifier: GPL-2.0
/*
 * fork.c over the fake primitive layer: with "device" memory (the fake's
 * DEVICE backend, whose heap chunks count as shared with a parent), the
 * child's atfork handler privatizes exactly the shared heap chunks, copies
 * the ones in use and zeroes the free pool chunks, leaves DMA buffers
 * shared, moves the stats to the new backend and allocates from it; the
 * parent is untouched.  On the THP backend a fork privatizes nothing.
 * The child reports through its exit status: 0, or the number of the
 * first check that failed.
 */
#include "hpa_test.h"

#define BIG	(4 * HPA_MiB)

FIXTURE(fork_fake) {
	char *small, *big, *dma;
	long shared;
	uint64_t dev_bytes;
};
FIXTURE_VARIANT(fork_fake) {
	enum hpa_backend backend;
};
FIXTURE_VARIANT_ADD(fork_fake, device) { .backend = HPA_BACKEND_DEVICE };
FIXTURE_VARIANT_ADD(fork_fake, thp) { .backend = HPA_BACKEND_THP };

static void fill(char *p, size_t len, char seed)
{
	size_t i;

	for (i = 0; i < len; i += 4096)
		p[i] = (char)(seed + (char)(i >> 12));
}

static bool filled(const char *p, size_t len, char seed)
{
	size_t i;

	for (i = 0; i < len; i += 4096)
		if (p[i] != (char)(seed + (char)(i >> 12)))
			return false;
	return true;
}

FIXTURE_SETUP(fork_fake)
{
	struct hpa_stats st = { .size = sizeof(st) };
	char *freed;

	fake_install();
	fake.backend = variant->backend;
	fake.dma_ok = true;
	/* No 4 KiB first segments: the heap's chunks are "device" ones. */
	setenv("HPALLOC_SMALL_START", "0", 1);
	hpa_init_slow();
	self->small = hpa_malloc(100);
	self->big = hpa_malloc(BIG);
	freed = hpa_malloc(BIG);
	self->dma = hpa_dma_alloc(2 * HPA_MiB, 0, 0);
	ASSERT_NE(NULL, self->small);
	ASSERT_NE(NULL, self->big);
	ASSERT_NE(NULL, freed);
	ASSERT_NE(NULL, self->dma);
	fill(self->small, 100, 1);
	fill(self->big, BIG, 2);
	fill(self->dma, 2 * HPA_MiB, 3);
	fill(freed, BIG, 4);
	hpa_free(freed);		/* retained: free chunks in the pool */
	self->shared = fake_shared_chunks();
	ASSERT_EQ(0, hpa_stats(&st));
	self->dev_bytes = st.per_backend[HPA_BACKEND_DEVICE].bytes_mapped;
	ASSERT_EQ(0, fake.errors);
}
FIXTURE_TEARDOWN(fork_fake) {}

static int child_checks(struct _test_data_fork_fake *self, bool device)
{
	struct hpa_stats st = { .size = sizeof(st) };
	char *p;

	if (device) {
		/* 1 segment + 2 big + 2 free pool chunks; not the DMA one. */
		if (self->shared != 5)
			return 1;
		if (fake.privatized != self->shared || fake_shared_chunks())
			return 2;
		if (fake.privatize_zeroed != 2 || fake.fork_children != 1)
			return 3;
	} else if (fake.privatized || fake.fork_children) {
		return 4;
	}
	if (!filled(self->small, 100, 1) || !filled(self->big, BIG, 2) ||
	    !filled(self->dma, 2 * HPA_MiB, 3))
		return 5;
	if (hpa_stats(&st))
		return 6;
	/* Device bytes left are the DMA buffer's, which stays shared. */
	if (device && (st.per_backend[HPA_BACKEND_DEVICE].bytes_mapped ||
		       st.backend != HPA_BACKEND_THP ||
		       st.per_backend[HPA_BACKEND_THP].bytes_mapped !=
		       self->dev_bytes))
		return 7;
	p = hpa_malloc(3 * BIG);
	if (!p)
		return 8;
	fill(p, 3 * BIG, 5);
	fill(self->big, BIG, 6);
	hpa_free(p);
	if (fake.errors)
		return 9;
	return 0;
}

TEST_F(fork_fake, child_gets_a_private_heap)
{
	struct hpa_stats st = { .size = sizeof(st) };
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(child_checks(self,
				   variant->backend == HPA_BACKEND_DEVICE));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The parent kept its memory, its backend and its counts. */
	EXPECT_EQ(0, fake.privatized);
	EXPECT_EQ(0, fake.fork_children);
	EXPECT_EQ(self->shared, fake_shared_chunks());
	EXPECT_TRUE(filled(self->big, BIG, 2));
	ASSERT_EQ(0, hpa_stats(&st));
	EXPECT_EQ(self->dev_bytes,
		  st.per_backend[HPA_BACKEND_DEVICE].bytes_mapped);
	EXPECT_EQ(variant->backend, st.backend);
	EXPECT_EQ(0, fake.errors);
}

TEST_HARNESS_MAIN
