// SPDX-License-Identifier: GPL-2.0
/*
 * accounting=memcg: a buffer's 2 MiB pages are charged to the creator's
 * memory cgroup (memory.current, memory.max, memory.events) instead of
 * RLIMIT_MEMLOCK, never come from or go back to a pool, and a cgroup
 * killed with cgroup.kill gives every page back.  Also: accounting=memlock
 * still stops at the memlock limit, and a non-root process in a user
 * namespace allocates and maps but never reads physical addresses.
 *
 * Needs cgroup v2 at /sys/fs/cgroup with the memory controller enabled for
 * children (scripts/guest-init.sh mounts it); skips without.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "kselftest_harness.h"
#include "hpa_util.h"
#include "hpa_test_pool.h"

#define CGROOT		"/sys/fs/cgroup"
#define ACCT_PARAM	"/sys/module/hpalloc/parameters/accounting"
#define SZ_1M		(1UL << 20)
#define MEMLOCK_8M	(8UL << 20)

/* ---- small file helpers --------------------------------------------- */

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

/* A "key value" line of a flat-keyed cgroup file; -1 if absent. */
static long read_key(const char *path, const char *key)
{
	char buf[4096], *line, *save = NULL;
	size_t klen = strlen(key);

	if (hpa_read_str(path, buf, sizeof(buf)))
		return -1;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			return atol(line + klen + 1);
	return -1;
}

static long cg_long(const char *cg, const char *file)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return hpa_read_long(path);
}

/* One key of a flat-keyed file of the cgroup (memory.events ...). */
static long cg_key(const char *cg, const char *file, const char *key)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return read_key(path, key);
}

static int cg_write(const char *cg, const char *file, const char *s)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return write_str(path, s);
}

static int cg_enter(const char *cg)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", getpid());
	return cg_write(cg, "cgroup.procs", pid);
}

/* Why the memory controller can't be used, or NULL when it can. */
static const char *memcg_missing(void)
{
	char buf[256];

	if (hpa_read_str(CGROOT "/cgroup.controllers", buf, sizeof(buf)))
		return "no cgroup v2 at " CGROOT;
	if (!strstr(buf, "memory"))
		return "no memory controller in " CGROOT;
	if (hpa_read_str(CGROOT "/cgroup.subtree_control", buf, sizeof(buf)) ||
	    !strstr(buf, "memory")) {
		if (write_str(CGROOT "/cgroup.subtree_control", "+memory"))
			return "cannot enable +memory for children";
	}
	if (access(ACCT_PARAM, W_OK))
		return "module has no writable accounting parameter";
	return NULL;
}

/* Kill what is left in the cgroup and remove it. */
static void cg_destroy(const char *cg)
{
	int i;

	if (access(cg, F_OK))
		return;
	cg_write(cg, "cgroup.kill", "1");
	for (i = 0; i < 500 && rmdir(cg) && errno == EBUSY; i++)
		usleep(10000);
}

/* ---- what a child reports --------------------------------------------- */

struct report {
	int stage;		/* how far it got */
	int err;		/* -errno of the step that failed */
	long before, after;	/* memory.current around the allocation */
	long events_max0, events_max1;	/* around the over-limit allocation */
	int second_err;		/* -errno of the second allocation */
	long pool_delta;	/* 2 MiB pool pages in use: change */
	int memlock_err;	/* memlock mode after it: 8 MiB, then 2 more */
	int memlock_over_err;
};

/* A child in no position to lift the limit: no CAP_IPC_LOCK, 8 MiB. */
static int child_limits(void)
{
	struct rlimit rl = { MEMLOCK_8M, MEMLOCK_8M };

	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return -errno;
	if (hpa_drop_cap(CAP_IPC_LOCK))
		return -errno;
	return 0;
}

/* Map a buffer, check it reads zero, write every page. */
static int map_touch(int fd, uint64_t off, size_t len, void **out)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
	size_t i;

	if (p == MAP_FAILED)
		return -errno;
	for (i = 0; i < len; i += 4096) {
		if (p[i])
			return -EIO;
		p[i] = 0x5a;
	}
	if (out)
		*out = p;
	return 0;
}

/* The mode the parent set before it started the child. */
static const char *mode_for_child = "memcg";

/*
 * The scenario, in the child: 48 MiB with memlock at 8 MiB, then
 * a further 32 MiB over memory.max=64M.
 */
static void checked_by_child(const char *cg, int wfd)
{
	struct report r = { 0 };
	uint64_t off, off2, off3;
	long in_use0;
	int fd;

	r.err = cg_enter(cg);
	if (r.err)
		goto out;
	r.stage = 1;
	r.err = child_limits();
	if (r.err)
		goto out;
	r.stage = 2;
	fd = open("/dev/hpalloc", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r.err = -errno;
		goto out;
	}
	r.before = cg_long(cg, "memory.current");
	in_use0 = hpa_in_use_now(0);
	r.stage = 3;
	r.err = dev_alloc(fd, 48 * SZ_1M, HPALLOC_PAGE_SIZE_2M, &off);
	if (r.err)
		goto out;
	r.stage = 4;
	r.err = map_touch(fd, off, 48 * SZ_1M, NULL);
	if (r.err)
		goto out;
	r.after = cg_long(cg, "memory.current");
	r.pool_delta = hpa_in_use_now(0) - in_use0;
	r.stage = 5;
	r.events_max0 = cg_key(cg, "memory.events", "max");
	r.second_err = dev_alloc(fd, 32 * SZ_1M, HPALLOC_PAGE_SIZE_2M, &off2);
	r.events_max1 = cg_key(cg, "memory.events", "max");
	r.stage = 6;
	if (strcmp(mode_for_child, "memcg"))
		goto out;
	/* the 48 MiB left RLIMIT_MEMLOCK alone: all 8 MiB of it are there */
	r.err = write_str(ACCT_PARAM, "memlock");
	if (r.err)
		goto out;
	r.memlock_err = dev_alloc(fd, MEMLOCK_8M, HPALLOC_PAGE_SIZE_2M, &off3);
	r.memlock_over_err = dev_alloc(fd, SZ_2M, HPALLOC_PAGE_SIZE_2M, &off3);
	r.err = write_str(ACCT_PARAM, "memcg");
	if (r.err)
		goto out;
	r.stage = 7;
out:
	if (write(wfd, &r, sizeof(r)) != sizeof(r))
		_exit(2);
	_exit(0);
}

static int run_child(void (*fn)(const char *, int), const char *cg,
		     struct report *r)
{
	int p[2], status;
	pid_t pid;
	ssize_t n;

	if (pipe(p))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		close(p[0]);
		fn(cg, p[1]);
		_exit(3);
	}
	close(p[1]);
	n = read(p[0], r, sizeof(*r));
	close(p[0]);
	waitpid(pid, &status, 0);
	if (n != sizeof(*r))
		return -EPIPE;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -ECHILD;
}

FIXTURE(memcg)
{
	char cg[64];
	char mode0[32];
	struct hpa_pools pools0;
	bool have_pools;
};

FIXTURE_SETUP(memcg)
{
	const char *why = memcg_missing();

	self->mode0[0] = '\0';
	self->cg[0] = '\0';
	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, hpa_read_str(ACCT_PARAM, self->mode0, sizeof(self->mode0)));
	snprintf(self->cg, sizeof(self->cg), "%s/hpa-memcg", CGROOT);
	cg_destroy(self->cg);
	ASSERT_EQ(0, mkdir(self->cg, 0755)) TH_LOG("mkdir %s: %m", self->cg);
	ASSERT_EQ(0, write_str(ACCT_PARAM, "memcg"));
	HPA_POOLS_SNAPSHOT(self);
}

FIXTURE_TEARDOWN(memcg)
{
	if (self->mode0[0])
		write_str(ACCT_PARAM, self->mode0);
	if (self->cg[0])
		cg_destroy(self->cg);
}

/* The parameter: two names, anything else refused with EINVAL. */
TEST_F(memcg, parameter)
{
	char buf[32];

	ASSERT_EQ(0, hpa_read_str(ACCT_PARAM, buf, sizeof(buf)));
	EXPECT_STREQ("memcg", buf);
	EXPECT_EQ(-EINVAL, write_str(ACCT_PARAM, "mlock"));
	EXPECT_EQ(-EINVAL, write_str(ACCT_PARAM, "\n"));
	EXPECT_EQ(0, write_str(ACCT_PARAM, "memlock\n"));
	ASSERT_EQ(0, hpa_read_str(ACCT_PARAM, buf, sizeof(buf)));
	EXPECT_STREQ("memlock", buf);
	EXPECT_STREQ("memlock", self->mode0) TH_LOG("default is memlock");
}

/*
 * memory.max=64M, memlock 8 MiB: 48 MiB is allocated and shows in
 * memory.current, 32 MiB more is ENOMEM and counted in memory.events, and
 * after exit the cgroup and the pools are where they started.
 *
 * The failed charge is a "max" event (try_charge_memcg() counts one
 * before it reclaims) and no OOM kill: kmod/account.c charges with
 * __GFP_RETRY_MAYFAIL, which fails the charge after the cgroup's reclaim
 * instead of calling the memcg OOM killer, and an order-9 charge is past
 * the kernel's costly order, for which mem_cgroup_oom() kills nothing and
 * counts no "oom" event either.  An OOM kill would take the child before
 * it reports, so the parent reads "oom" and "oom_kill" around it.
 */
TEST_F_TIMEOUT(memcg, checked_by, 300)
{
	long start, end, oom0, oom_kill0;
	struct report r;
	int ret;

	ASSERT_EQ(0, cg_write(self->cg, "memory.max", "64M"));
	start = cg_long(self->cg, "memory.current");
	oom0 = cg_key(self->cg, "memory.events", "oom");
	oom_kill0 = cg_key(self->cg, "memory.events", "oom_kill");
	ASSERT_LE(0, oom0);
	ASSERT_LE(0, oom_kill0);
	ret = run_child(checked_by_child, self->cg, &r);
	EXPECT_EQ(oom0, cg_key(self->cg, "memory.events", "oom"));
	EXPECT_EQ(oom_kill0, cg_key(self->cg, "memory.events", "oom_kill"))
		TH_LOG("the over-limit ALLOC OOM-killed a task");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(7, r.stage) TH_LOG("child stopped at %d: %s", r.stage,
				     strerror(-r.err));
	TH_LOG("memory.current %ld -> %ld (+%ld bytes for 48 MiB), memory.events max %ld -> %ld around the 32 MiB ALLOC",
	       r.before, r.after, r.after - r.before, r.events_max0,
	       r.events_max1);
	EXPECT_GE(r.after - r.before, (long)(48 * SZ_1M));
	EXPECT_LE(r.after - r.before, (long)(48 * SZ_1M + SZ_1M));
	EXPECT_EQ(-ENOMEM, r.second_err);
	ASSERT_LE(0, r.events_max0);
	EXPECT_GT(r.events_max1, r.events_max0)
		TH_LOG("the ENOMEM was not the cgroup's memory.max");
	/* the pages never came from a pool */
	EXPECT_EQ(0, r.pool_delta);
	EXPECT_EQ(0, r.memlock_err);
	EXPECT_EQ(-ENOMEM, r.memlock_over_err);
	end = cg_long(self->cg, "memory.current");
	EXPECT_LE(end, start + (long)SZ_1M)
		TH_LOG("memory.current %ld at start, %ld after", start, end);
	HPA_EXPECT_POOLS_BACK(self);
}

/* accounting=memlock, same child: the 8 MiB memlock wall is still there. */
TEST_F(memcg, memlock_unchanged)
{
	struct report r;

	ASSERT_EQ(0, write_str(ACCT_PARAM, "memlock"));
	mode_for_child = "memlock";
	ASSERT_EQ(0, run_child(checked_by_child, self->cg, &r));
	EXPECT_EQ(3, r.stage);
	EXPECT_EQ(-ENOMEM, r.err);
	HPA_EXPECT_POOLS_BACK(self);
}

/* What the kernel cannot charge is refused, not handed out uncharged. */
TEST_F(memcg, refused)
{
	struct hpalloc_alloc a;
	int fd = open("/dev/hpalloc", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EOPNOTSUPP, dev_alloc(fd, SZ_1G, HPALLOC_PAGE_SIZE_1G,
					 NULL));
	EXPECT_EQ(-EOPNOTSUPP,
		  dev_alloc_full(fd, 2 * SZ_2M, HPALLOC_PAGE_SIZE_2M,
				 HPALLOC_POLICY_LOCAL, 0, HPALLOC_ALLOC_CONTIG,
				 &a));
	/* one page is contiguous by itself */
	EXPECT_EQ(0, dev_alloc_full(fd, SZ_2M, HPALLOC_PAGE_SIZE_2M,
				    HPALLOC_POLICY_LOCAL, 0,
				    HPALLOC_ALLOC_CONTIG, &a));
	EXPECT_EQ(-ENOMEM, dev_alloc(fd, 1UL << 39, HPALLOC_PAGE_SIZE_2M,
				     NULL));
	close(fd);
	HPA_EXPECT_POOLS_BACK(self);
}

/*
 * A process tree holding mappings of a pool buffer (allocated in memlock
 * mode) and of a charged one, across fork, killed with cgroup.kill: the
 * cgroup's memory and the pools come back.
 */
TEST_F_TIMEOUT(memcg, cgroup_kill, 300)
{
	int ready[2], go[2], i, status;
	long start, held, end;
	char c;
	pid_t pid;

	start = cg_long(self->cg, "memory.current");
	ASSERT_EQ(0, write_str(ACCT_PARAM, "memlock"));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		uint64_t off;
		int fd;

		close(ready[0]);
		close(go[1]);
		if (cg_enter(self->cg))
			_exit(10);
		fd = open("/dev/hpalloc", O_RDWR);
		if (fd < 0 || dev_alloc(fd, SZ_2M, HPALLOC_PAGE_SIZE_2M, &off) ||
		    map_touch(fd, off, SZ_2M, NULL))
			_exit(11);
		/* the parent switches to memcg */
		if (write(ready[1], "p", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(12);
		if (dev_alloc(fd, 8 * SZ_1M, HPALLOC_PAGE_SIZE_2M, &off) ||
		    map_touch(fd, off, 8 * SZ_1M, NULL))
			_exit(13);
		for (i = 0; i < 3; i++) {
			if (!fork()) {
				/* children inherit both mappings and the fd */
				if (write(ready[1], "c", 1) != 1)
					_exit(14);
				for (;;)
					pause();
			}
		}
		if (write(ready[1], "m", 1) != 1)
			_exit(15);
		for (;;)
			pause();
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	ASSERT_EQ('p', c);
	ASSERT_EQ(0, write_str(ACCT_PARAM, "memcg"));
	ASSERT_EQ(1, write(go[1], "g", 1));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(1, read(ready[0], &c, 1)) TH_LOG("tree not ready");
	held = cg_long(self->cg, "memory.current");
	TH_LOG("tree of 5 holding 2 MiB pool + 8 MiB charged: memory.current %ld -> %ld",
	       start, held);
	EXPECT_GE(held - start, (long)(8 * SZ_1M));
	EXPECT_EQ(1, hpa_in_use_now(0) - hpa_pools_sum(&self->pools0, 0,
						       HPA_C_IN_USE));
	ASSERT_EQ(0, cg_write(self->cg, "cgroup.kill", "1"));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	for (i = 0; i < 500 && cg_key(self->cg, "cgroup.events",
				      "populated") != 0; i++)
		usleep(10000);
	EXPECT_EQ(0, cg_key(self->cg, "cgroup.events", "populated"));
	end = cg_long(self->cg, "memory.current");
	EXPECT_LE(end, start + (long)SZ_1M)
		TH_LOG("memory.current %ld at start, %ld held, %ld after",
		       start, held, end);
	close(ready[0]);
	close(go[1]);
	HPA_EXPECT_POOLS_BACK(self);
}

/*
 * uid 65534 in a user namespace of its own: root there, with every
 * capability there, and none in the initial namespace.  It allocates and
 * maps within its cgroup, and is refused physical addresses.
 */
static void userns_child(const char *cg, int wfd)
{
	struct report r = { 0 };
	char map[64];
	uint64_t off;
	int fd;

	r.err = cg_enter(cg);
	if (r.err)
		goto out;
	r.stage = 1;
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534)) {
		r.err = -errno;
		goto out;
	}
	r.stage = 2;
	/* the dumpable flag lets the process write its own maps */
	prctl(PR_SET_DUMPABLE, 1);
	if (unshare(CLONE_NEWUSER)) {
		r.err = -errno;
		goto out;
	}
	r.stage = 3;
	snprintf(map, sizeof(map), "0 65534 1");
	if (write_str("/proc/self/setgroups", "deny") ||
	    write_str("/proc/self/uid_map", map) ||
	    write_str("/proc/self/gid_map", map)) {
		r.err = -EACCES;
		goto out;
	}
	r.stage = 4;
	fd = open("/dev/hpalloc", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r.err = -errno;
		goto out;
	}
	r.before = cg_long(cg, "memory.current");
	r.err = dev_alloc(fd, 4 * SZ_1M, HPALLOC_PAGE_SIZE_2M, &off);
	if (r.err)
		goto out;
	r.stage = 5;
	r.err = map_touch(fd, off, 4 * SZ_1M, NULL);
	if (r.err)
		goto out;
	r.after = cg_long(cg, "memory.current");
	r.stage = 6;
	/* CAP_SYS_RAWIO of this namespace is not the real one */
	r.second_err = hpa_query(fd, off, HPALLOC_QUERY_PHYS, NULL, 0, NULL);
	r.stage = 7;
out:
	if (write(wfd, &r, sizeof(r)) != sizeof(r))
		_exit(2);
	_exit(0);
}

TEST_F_TIMEOUT(memcg, user_namespace, 120)
{
	struct report r;

	ASSERT_EQ(0, cg_write(self->cg, "memory.max", "64M"));
	/* a non-root uid must be able to open the device (mode 0666) */
	ASSERT_EQ(0, run_child(userns_child, self->cg, &r));
	if (r.stage == 3 && (r.err == -EPERM || r.err == -EINVAL ||
			     r.err == -ENOSPC))
		SKIP(return, "unprivileged user namespaces are off: %s",
		     strerror(-r.err));
	ASSERT_EQ(7, r.stage) TH_LOG("child stopped at %d: %s", r.stage,
				     strerror(-r.err));
	TH_LOG("uid 65534 in a user namespace: 4 MiB charged (+%ld bytes), QUERY_PHYS: %s",
	       r.after - r.before, strerror(-r.second_err));
	EXPECT_GE(r.after - r.before, (long)(4 * SZ_1M));
	EXPECT_EQ(-EPERM, r.second_err);
	HPA_EXPECT_POOLS_BACK(self);
}

/*
 * io_uring fixed buffers charge RLIMIT_MEMLOCK themselves (the ring
 * creator's user_struct, pages of compound folios counted once).  6 MiB
 * under an 8 MiB limit: in memlock mode the buffer's own charge and
 * io_uring's add up to 12 MiB and the registration fails with ENOMEM (the
 * double charge); in memcg mode the memlock counter sees io_uring's 6 MiB
 * only.  Before 6.5 io_uring refuses file-backed memory (EOPNOTSUPP).
 * (Setting up a ring may need kernel.io_uring_disabled=0.)
 */
static int uring_register_child(const char *cg)
{
	struct io_uring_params p = { 0 };
	struct iovec iov;
	uint64_t off;
	int fd, ufd, ret;
	void *addr;

	ret = cg_enter(cg);
	if (ret)
		return ret;
	ret = child_limits();
	if (ret)
		return ret;
	/* a user of its own: no one else's locked_vm in the count */
	if (setresgid(65533, 65533, 65533) || setresuid(65533, 65533, 65533))
		return -errno;
	fd = open("/dev/hpalloc", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = dev_alloc(fd, 6 * SZ_1M, HPALLOC_PAGE_SIZE_2M, &off);
	if (ret)
		return ret;
	ret = map_touch(fd, off, 6 * SZ_1M, &addr);
	if (ret)
		return ret;
	ufd = syscall(__NR_io_uring_setup, 4, &p);
	if (ufd < 0)
		return 1000 + errno;	/* no io_uring: the parent skips */
	iov.iov_base = addr;
	iov.iov_len = 6 * SZ_1M;
	if (syscall(__NR_io_uring_register, ufd, IORING_REGISTER_BUFFERS,
		    &iov, 1))
		return -errno;
	return 0;
}

static void uring_child(const char *cg, int wfd)
{
	struct report r = { 0 };

	r.err = uring_register_child(cg);
	r.stage = 1;
	if (write(wfd, &r, sizeof(r)) != sizeof(r))
		_exit(2);
	_exit(0);
}

TEST_F(memcg, no_double_charge_io_uring)
{
	struct report memcg, memlock;

	ASSERT_EQ(0, run_child(uring_child, self->cg, &memcg));
	if (memcg.err >= 1000)
		SKIP(return, "io_uring_setup: %s", strerror(memcg.err - 1000));
	if (memcg.err == -EOPNOTSUPP && hpa_kernel_before(6, 5))
		SKIP(return, "io_uring before 6.5 registers no file-backed memory");
	EXPECT_EQ(0, memcg.err) TH_LOG("memcg mode: %s", strerror(-memcg.err));
	ASSERT_EQ(0, write_str(ACCT_PARAM, "memlock"));
	ASSERT_EQ(0, run_child(uring_child, self->cg, &memlock));
	EXPECT_EQ(-ENOMEM, memlock.err)
		TH_LOG("memlock mode: %s", strerror(-memlock.err));
	TH_LOG("IORING_REGISTER_BUFFERS of 6 MiB under an 8 MiB memlock limit: memcg mode %s, memlock mode %s",
	       memcg.err ? strerror(-memcg.err) : "works",
	       memlock.err ? strerror(-memlock.err) : "works");
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_HARNESS_MAIN
