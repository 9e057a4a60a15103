// SPDX-License-Identifier: GPL-2.0
/*
 * First module test program (tests run in sorted order): saves every
 * pool's counters, once nothing is being zeroed, for zz_final_counters_test
 * to compare with at the end of the suite.  The guest's /tmp lives across
 * test programs.
 */
#include "kselftest_harness.h"
#include "hpa_test_pool.h"

TEST(save_pool_counters)
{
	struct hpa_pools p;
	int nid, ps, i, n;
	FILE *f;

	if (access("/dev/hpalloc", F_OK))
		SKIP(return, "/dev/hpalloc is missing: module not loaded");
	hpa_pools_quiesce(20000);
	n = hpa_pools_read(&p);
	ASSERT_LT(0, n) TH_LOG("no pools in " HPA_SYSFS_ROOT);
	f = fopen(HPA_COUNTERS_FILE, "w");
	ASSERT_NE(NULL, f);
	for (nid = 0; nid < HPA_MAX_NODES; nid++)
		for (ps = 0; ps < HPA_NR_PSIZES; ps++)
			for (i = 0; p.present[nid][ps] && i < HPA_NR_COUNTERS;
			     i++)
				fprintf(f, "%d %d %d %ld\n", nid, ps, i,
					p.c[nid][ps][i]);
	ASSERT_EQ(0, fclose(f));
	TH_LOG("%d pools saved to " HPA_COUNTERS_FILE, n);
}

TEST_HARNESS_MAIN
