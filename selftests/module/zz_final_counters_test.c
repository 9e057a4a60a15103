// SPDX-License-Identifier: GPL-2.0
/*
 * Last module test program: after the whole suite every pool's counters
 * (total, free, in_use, zeroing, target) must be where
 * aa_initial_counters_test found them.
 */
#include "kselftest_harness.h"
#include "hpa_test_pool.h"

TEST(pool_counters_back_at_start)
{
	struct hpa_pools start;
	char msg[160] = "";
	int nid, ps, i, n = 0;
	long v;
	FILE *f;

	if (access("/dev/hpalloc", F_OK))
		SKIP(return, "/dev/hpalloc is missing: module not loaded");
	f = fopen(HPA_COUNTERS_FILE, "r");
	if (!f)
		SKIP(return, HPA_COUNTERS_FILE " is missing: aa_initial_counters_test did not run");
	memset(&start, 0, sizeof(start));
	while (fscanf(f, "%d %d %d %ld", &nid, &ps, &i, &v) == 4) {
		ASSERT_TRUE(nid >= 0 && nid < HPA_MAX_NODES && ps >= 0 &&
			    ps < HPA_NR_PSIZES && i >= 0 &&
			    i < HPA_NR_COUNTERS);
		start.present[nid][ps] = true;
		start.c[nid][ps][i] = v;
		n++;
	}
	fclose(f);
	ASSERT_LT(0, n);
	EXPECT_TRUE(hpa_pools_settle(&start, 20000, msg, sizeof(msg)))
		TH_LOG("pool counters not back at the end of the suite: %s",
		       msg);
}

TEST_HARNESS_MAIN
