// SPDX-License-Identifier: GPL-2.0
/*
 * DMA buffers on the device backend: one physically contiguous range,
 * checked page by page with hpa_virt2phys (which asks the device), zeroed,
 * released by hpa_dma_free only; its page table in one call; its dma-buf
 * fd mapped again, at a chosen address, and after the buffer was freed.
 * Skips without /dev/hpalloc.
 */
#include <sys/mman.h>

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

/* The page table in one call: count, page size, addresses, short arrays. */
TEST_F(dma, page_table_in_one_call)
{
	size_t ps = 0, len = 6 << 20, i;
	uint64_t iova[4] = { 0 }, phys, nodes = 0;
	static uint64_t big[80];
	char *p, *q;
	long n;

	p = hpa_dma_alloc(len, 0, 0);
	if (!p && errno == ENOMEM)
		SKIP(return, "no contiguous 6 MiB on node 0");
	ASSERT_NE(NULL, p);
	EXPECT_EQ(3, hpa_dma_pages(p + 12345, NULL, 0, &ps));
	EXPECT_EQ((size_t)2 << 20, ps);
	EXPECT_EQ(0, hpa_dma_nodes(p + len - 1, &nodes));
	EXPECT_EQ(1, nodes);
	n = hpa_dma_pages(p, iova, 1, NULL);
	if (n == -EPERM) {
		ksft_print_msg("no CAP_SYS_RAWIO: page table not checked\n");
		EXPECT_EQ(0, hpa_dma_free(p));
		return;
	}
	EXPECT_EQ(3, n);
	EXPECT_NE(0, iova[0]);
	EXPECT_EQ(0, iova[1]);		/* only one asked for */
	EXPECT_EQ(3, hpa_dma_pages(p, iova, 4, &ps));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, hpa_virt2phys(p + i * ps + 77, &phys));
		EXPECT_EQ(iova[i] + 77, phys) TH_LOG("page %zu", i);
		EXPECT_EQ(iova[0] + i * ps, iova[i]);
	}
	EXPECT_EQ(0, iova[3]);
	EXPECT_EQ(0, hpa_dma_free(p));

	/* more pages than fit the query's stack array */
	q = hpa_dma_alloc(70UL << 21, -1, 0);
	if (!q)
		SKIP(return, "no contiguous 140 MiB: large table not checked");
	n = hpa_dma_pages(q, big, 80, &ps);
	EXPECT_EQ(70, n);
	for (i = 1; i < 70 && n == 70; i++)
		EXPECT_EQ(big[0] + i * ps, big[i]) TH_LOG("page %zu", i);
	EXPECT_EQ(0, big[70]);
	EXPECT_EQ(0, hpa_dma_free(q));
}

TEST_F(dma, page_table_refuses_other_pointers)
{
	uint64_t iova[1], nodes;
	char *m = hpa_malloc(4096);
	int x;

	ASSERT_NE(NULL, m);
	EXPECT_EQ(-EINVAL, hpa_dma_pages(m, iova, 1, NULL));
	EXPECT_EQ(-EINVAL, hpa_dma_pages(&x, iova, 1, NULL));
	EXPECT_EQ(-EINVAL, hpa_dma_pages(NULL, iova, 1, NULL));
	EXPECT_EQ(-EINVAL, hpa_dma_nodes(m, &nodes));
	EXPECT_EQ(-EINVAL, hpa_dma_fd(m, 0));
	hpa_free(m);
}

static void check_child(void *arg)
{
	int fd = (int)(intptr_t)arg;
	size_t len = 0, i;
	uint8_t *p = hpa_dma_map_fd(fd, NULL, &len);

	if (!p || len != 4 << 20)
		_exit(10);
	for (i = 0; i < len; i += 4096)
		if (p[i] != (uint8_t)(i >> 12))
			_exit(11);
	p[len - 1] = 0xcc;	/* the parent looks for it */
	if (hpa_dma_unmap_fd(p, len))
		_exit(12);
	_exit(0);
}

/*
 * The dma-buf fd: another process maps it and sees and writes the bytes;
 * it maps at a chosen address (refused where something is mapped); a
 * read-only fd maps read-only; the buffer outlives hpa_dma_free.
 */
TEST_F(dma, dmabuf_fd_shared_and_mapped_at_address)
{
	size_t len = 4 << 20, got = 0, i;
	uint8_t *p, *q, *r;
	char out[256];
	int fd, rofd, st = -1;

	p = hpa_dma_alloc(len, -1, 0);
	ASSERT_NE(NULL, p);
	for (i = 0; i < len; i += 4096)
		p[i] = (uint8_t)(i >> 12);
	fd = hpa_dma_fd(p, 0);
	if (fd == -EOPNOTSUPP) {
		hpa_dma_free(p);
		SKIP(return, "the module has no dma-buf export");
	}
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, hpa_dma_fd(p, 0x80));
	EXPECT_EQ(0, run_child(check_child, (void *)(intptr_t)fd, out,
			       sizeof(out), &st)) TH_LOG("%s", out);
	EXPECT_EQ(0, st);
	EXPECT_EQ(0xcc, p[len - 1]);

	q = hpa_dma_map_fd(fd, NULL, &got);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(len, got);
	EXPECT_EQ(0, (uintptr_t)q % (2 << 20));
	EXPECT_EQ(0, hpa_dma_unmap_fd(q, got));
	/* the same address again, as a secondary process would ask */
	r = hpa_dma_map_fd(fd, q, NULL);
	EXPECT_EQ(q, r);
	errno = 0;
	EXPECT_EQ(NULL, hpa_dma_map_fd(fd, p, NULL));
	EXPECT_EQ(EEXIST, errno);
	errno = 0;
	EXPECT_EQ(NULL, hpa_dma_map_fd(fd, r + 4096, NULL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, hpa_dma_unmap_fd(p, len));	/* arena memory */

	rofd = hpa_dma_fd(p, HPA_DMA_FD_READONLY);
	ASSERT_LE(0, rofd);
	q = hpa_dma_map_fd(rofd, NULL, &got);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(p[8192], q[8192]);
	EXPECT_EQ(-1, mprotect(q, got, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(0, hpa_dma_unmap_fd(q, got));
	close(rofd);

	/* freed here, alive through the fd and its mapping */
	EXPECT_EQ(0, hpa_dma_free(p));
	close(fd);
	for (i = 0; i < len; i += 4096)
		if (r[i] != (uint8_t)(i >> 12))
			break;
	EXPECT_EQ(len, i);
	EXPECT_EQ(0xcc, r[len - 1]);
	EXPECT_EQ(0, hpa_dma_unmap_fd(r, len));
}

TEST_HARNESS_MAIN
