// SPDX-License-Identifier: GPL-2.0
/*
 * Unloading the module while administrators resize its pools through
 * sysfs must give every page back.  Runs last in the guest (after
 * zz_final_counters_test): it unloads the module, measures the memory the
 * system has without it, then loads and unloads it again and again with
 * writers growing and shrinking the pools' targets the whole time, and
 * checks that the memory comes back each time.  It leaves the module
 * loaded as it found it (same parameters).
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "hpa_util.h"
#include "hpa_test_pool.h"

#define MODULE_PATH	"/hpalloc.ko"
#define PARAMS_PATH	"/etc/params"
#define ROUNDS		4
#define WRITERS		2
/* target a writer sets: big enough that a grow takes a while under TCG */
#define GROW_PAGES	100
/*
 * What may move between two readings: slab and page tables (tens of kB in
 * practice); a pool page that never went back is 2048 kB.
 */
#define TOLERANCE_KB	2048L

static char params[256];

static int load(void)
{
	int fd = open(MODULE_PATH, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

/* Unload; the module is idle (no open files), so only EAGAIN-ish waits. */
static int unload(void)
{
	int i;

	for (i = 0; i < 200; i++) {
		if (!syscall(SYS_delete_module, "hpalloc", O_NONBLOCK))
			return 0;
		if (errno != EBUSY && errno != EAGAIN)
			return -errno;
		usleep(50000);
	}
	return -EBUSY;
}

/* Grow and shrink every 2 MiB pool until the files go away. */
static void writer(int seed)
{
	long writes = 0;

	for (;;) {
		int nid, alive = 0;

		for (nid = 0; nid < 8; nid++) {
			long v = ((writes + nid + seed) & 1) ? GROW_PAGES : 0;
			int ret = hpa_pool_write(nid, 0, "target", v);

			if (ret != -ENOENT)
				alive = 1;
			writes++;
		}
		if (!alive)
			_exit(0);
	}
}

FIXTURE(unload) {
};

FIXTURE_SETUP(unload)
{
}

FIXTURE_TEARDOWN(unload)
{
}

/*
 * Every load with the guest's parameters reserves (and clears) a 1 GiB
 * page, and every unload may wait up to 10 s for the writers: five loads
 * and four unloads take minutes, not the harness's default 30 s, when the
 * host's CPUs are busy.
 */
TEST_F_TIMEOUT(unload, unload_while_resizing_gives_every_page_back, 300)
{
	long before, after;
	int round, i, ret;
	FILE *f;

	if (access(MODULE_PATH, R_OK) || access(HPALLOC_DEVICE, F_OK))
		SKIP(return, "not in the test guest (no %s or module)",
		     MODULE_PATH);
	f = fopen(PARAMS_PATH, "r");
	if (f) {
		if (!fgets(params, sizeof(params), f))
			params[0] = 0;
		params[strcspn(params, "\n")] = 0;
		fclose(f);
	}

	ASSERT_EQ(0, unload()) TH_LOG("module busy: something holds it");
	before = hpa_mem_kb();
	ASSERT_LT(0, before);
	for (round = 0; round < ROUNDS; round++) {
		pid_t pids[WRITERS];

		ret = load();
		ASSERT_EQ(0, ret) TH_LOG("load: %s", strerror(-ret));
		for (i = 0; i < WRITERS; i++) {
			pids[i] = fork();
			ASSERT_LE(0, pids[i]);
			if (pids[i] == 0) {
				/* a test killed by its timeout takes them along */
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				writer(i);
			}
		}
		/* unload at a different point of the writers' work each time */
		usleep(100000 + round * 150000);
		EXPECT_EQ(0, unload());
		for (i = 0; i < WRITERS; i++) {
			int st;

			ASSERT_EQ(pids[i], waitpid(pids[i], &st, 0));
			EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st));
		}
		after = hpa_mem_kb();
		TH_LOG("round %d: %ld kB before any load, %ld kB after unload",
		       round, before, after);
		EXPECT_GT(TOLERANCE_KB, before - after)
			TH_LOG("%ld MiB did not come back", (before - after) >> 10);
	}
	ASSERT_EQ(0, load()) TH_LOG("could not load the module again");
}

TEST_HARNESS_MAIN
