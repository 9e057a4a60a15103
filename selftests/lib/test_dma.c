// SPDX-License-Identifier: GPL-2.0
/*
 * DMA buffers on the device backend: one physically contiguous range,
 * checked page by page with hpa_virt2phys (which asks the device), zeroed,
 * released by hpa_dma_free only.  Skips without /dev/hpalloc.
 */
#include "hpa_test.h"

static enum hpa_backend backend(void)
{
	struct hpa_stats st = { .size = sizeof(st) };

	hpa_stats(&st);
	return st.backend;
}

FIXTURE(dma) {};
FIXTURE_SETUP(dma)
{
	HPA_REQUIRE_DEVICE();
	if (backend() != HPA_BACKEND_DEVICE) {
		errno = 0;
		ASSERT_EQ(NULL, hpa_dma_alloc(2 << 20, -1, 0));
		ASSERT_EQ(ENODEV, errno);
		SKIP(return, "needs the /dev/hpalloc backend (got %s)",
		     hpa_backend_name(backend()));
	}
}
FIXTURE_TEARDOWN(dma) {}

static void free_with_free(void *arg)
{
	hpa_free(arg);
}

TEST_F(dma, contiguous_zeroed_buffer)
{
	size_t len = 6 << 20, off;
	uint64_t base, phys;
	char buf[512];
	char *p;
	int r;

	p = hpa_dma_alloc(len - 100, -1, 0);
	if (!p && errno == ENOMEM)
		SKIP(return, "no contiguous 6 MiB free on the device");
	ASSERT_NE(NULL, p) TH_LOG("errno %d", errno);
	EXPECT_EQ(0, (uintptr_t)p & ((2 << 20) - 1));
	for (off = 0; off < len; off += 4096)
		ASSERT_EQ(0, p[off]) TH_LOG("offset %zu", off);
	memset(p, 0x5a, len);
	r = hpa_virt2phys(p, &base);
	if (r == -EPERM) {
		ksft_print_msg("no CAP_SYS_RAWIO: physical addresses hidden\n");
	} else {
		ASSERT_EQ(0, r);
		for (off = 0; off < len; off += (1 << 20) + 12345) {
			ASSERT_EQ(0, hpa_virt2phys(p + off, &phys));
			EXPECT_EQ(base + off, phys) TH_LOG("offset %zu", off);
		}
	}
	EXPECT_EQ(SIGABRT, run_child(free_with_free, p, buf, sizeof(buf), NULL));
	EXPECT_NE(NULL, strstr(buf, "use hpa_dma_free")) TH_LOG("%s", buf);
	EXPECT_EQ(-EINVAL, hpa_dma_free(p + 4096));
	EXPECT_EQ(0, hpa_dma_free(p));
	EXPECT_EQ(-EINVAL, hpa_dma_free(p));
}

TEST_F(dma, node_and_flags_are_checked)
{
	char *p;

	errno = 0;
	EXPECT_EQ(NULL, hpa_dma_alloc(2 << 20, 63, 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, hpa_dma_alloc(2 << 20, 0, 0x40));
	EXPECT_EQ(EINVAL, errno);
	p = hpa_dma_alloc(2 << 20, 0, 0);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, hpa_dma_free(p));
}

TEST_HARNESS_MAIN
