// SPDX-License-Identifier: GPL-2.0
/*
 * NUMA placement, checked from outside the library: move_pages(2) with a
 * NULL node list reports the node each page sits on.  On the device
 * backend (PFN mappings, which move_pages cannot see) the per-node byte
 * counts are checked instead.  Tests that need a second node skip without
 * one.
 */
#include <sys/syscall.h>

#include "hpa_test.h"

static int online_nodes(void)
{
	FILE *f = fopen("/sys/devices/system/node/online", "r");
	int a = 0, b = 0, n = 0;
	char c;

	if (!f)
		return 1;
	while (fscanf(f, "%d", &a) == 1) {
		b = a;
		if (fscanf(f, "%c", &c) == 1 && c == '-') {
			if (fscanf(f, "%d", &b) != 1)
				break;
			if (fscanf(f, "%c", &c) != 1)
				c = 0;
		}
		n += b - a + 1;
		if (c != ',')
			break;
	}
	fclose(f);
	return n ? n : 1;
}

static int current_node(void)
{
	unsigned int cpu, node;

	syscall(SYS_getcpu, &cpu, &node, NULL);
	return (int)node;
}

static uint64_t node_bytes(int node)
{
	struct hpa_stats st = { .size = sizeof(st) };

	hpa_stats(&st);
	return st.node_bytes[node];
}

static bool device_backend(void)
{
	struct hpa_stats st = { .size = sizeof(st) };

	hpa_stats(&st);
	return st.backend == HPA_BACKEND_DEVICE;
}

/* -1 if all pages of [p, p+len) are on node, else the first bad status. */
static int pages_on(char *p, size_t len, int node)
{
	enum { MAXP = 512 };
	void *pages[MAXP];
	int status[MAXP], i, n = 0;
	size_t off;

	for (off = 0; off < len && n < MAXP; off += 4096 * 7, n++) {
		p[off] = 1;
		pages[n] = p + off;
	}
	if (syscall(SYS_move_pages, 0, n, pages, NULL, status, 0) != 0)
		return -1000 - errno;
	for (i = 0; i < n; i++)
		if (status[i] != node)
			return status[i];
	return -1;
}

FIXTURE(numa) {};
FIXTURE_SETUP(numa)
{
	HPA_REQUIRE_DEVICE();
	hpa_free(hpa_malloc(1));
	ksft_print_msg("%d online node(s), on node %d\n", online_nodes(),
		       current_node());
}
FIXTURE_TEARDOWN(numa) {}

TEST_F(numa, default_placement_is_the_local_node)
{
	int node = current_node();
	uint64_t before = node_bytes(node);
	char *small = hpa_malloc(100000), *big = hpa_malloc(6 << 20);

	ASSERT_NE(NULL, small);
	ASSERT_NE(NULL, big);
	if (device_backend()) {
		EXPECT_GT(node_bytes(node), before);
	} else {
		EXPECT_EQ(-1, pages_on(small, 100000, node));
		EXPECT_EQ(-1, pages_on(big, 6 << 20, node));
	}
	hpa_free(small);
	hpa_free(big);
}

TEST_F(numa, malloc_node_places_on_that_node)
{
	int n, nodes = online_nodes();

	for (n = 0; n < nodes && n < HPA_STATS_MAX_NODES; n++) {
		uint64_t before = node_bytes(n);
		char *small = hpa_malloc_node(3000, n);
		char *big = hpa_malloc_node(5 << 20, n);

		ASSERT_NE(NULL, small) TH_LOG("node %d: %d", n, errno);
		ASSERT_NE(NULL, big) TH_LOG("node %d: %d", n, errno);
		EXPECT_GE(node_bytes(n), before + (4 << 20));
		if (!device_backend()) {
			EXPECT_EQ(-1, pages_on(small, 3000, n));
			EXPECT_EQ(-1, pages_on(big, 5 << 20, n));
		}
		hpa_free(small);
		hpa_free(big);
	}
}

TEST_F(numa, offline_node_is_einval)
{
	errno = 0;
	EXPECT_EQ(NULL, hpa_malloc_node(64, 63));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, hpa_malloc_node(64, -2));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, hpa_malloc_node(64, 100000));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(numa, second_node_gets_its_own_pages)
{
	char *a, *b;

	if (online_nodes() < 2)
		SKIP(return, "needs a second NUMA node (this machine has one)");
	a = hpa_malloc_node(200, 1);
	b = hpa_malloc_node(200, 0);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	/* Different nodes never share a segment. */
	EXPECT_NE((uintptr_t)a >> 21, (uintptr_t)b >> 21);
	if (!device_backend()) {
		EXPECT_EQ(-1, pages_on(a, 200, 1));
		EXPECT_EQ(-1, pages_on(b, 200, 0));
	}
	hpa_free(a);
	hpa_free(b);
}

TEST_HARNESS_MAIN
