// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetimes of hpalloc buffers: a buffer lives while its handle or a
 * mapping of it exists, and goes back to the pool when both are gone,
 * whatever the process does on the way: partial munmap, mremap, mprotect,
 * MAP_PRIVATE, MADV_DONTNEED, fork, exit of the parent first, SIGKILL,
 * many threads at once, running the pool dry.  Every case either works or
 * is refused with the error docs/device.md names, and ends with the pool
 * counters where they began.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "hpa_util.h"
#include "hpa_test_pool.h"


static int open_dev(void)
{
	return open(HPALLOC_DEVICE, O_RDWR | O_CLOEXEC);
}

static void *map_buf(int fd, uint64_t off, size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
}

static uint64_t word(uint64_t seed, size_t i)
{
	return (seed + i) * 0x9e3779b97f4a7c15ULL;
}

/* Writes a pattern into the first and last 64 KiB of every page. */
static void fill(void *p, size_t len, size_t psz, uint64_t seed)
{
	size_t pg, i, n = 8192;

	for (pg = 0; pg < len; pg += psz) {
		uint64_t *w = (uint64_t *)((char *)p + pg);
		uint64_t *e = (uint64_t *)((char *)p + pg + psz) - n;

		for (i = 0; i < n; i++) {
			w[i] = word(seed, pg / 8 + i);
			e[i] = ~word(seed, pg / 8 + i);
		}
	}
}

/* Index of the first wrong word + 1, or 0 when the pattern is intact. */
static size_t check(const void *p, size_t len, size_t psz, uint64_t seed)
{
	size_t pg, i, n = 8192;

	for (pg = 0; pg < len; pg += psz) {
		const uint64_t *w = (const uint64_t *)((const char *)p + pg);
		const uint64_t *e =
			(const uint64_t *)((const char *)p + pg + psz) - n;

		for (i = 0; i < n; i++)
			if (w[i] != word(seed, pg / 8 + i) ||
			    e[i] != ~word(seed, pg / 8 + i))
				return pg / 8 + i + 1;
	}
	return 0;
}

/* The signal a touch of addr raises in a child, 0 if none. */
static int touch_signal(volatile char *addr, bool write)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (write)
			*addr = 1;
		else
			(void)*addr;
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

/* ---- 2 MiB cases ------------------------------------------------------ */

FIXTURE(life) {
	int fd;
	struct hpa_pools pools0;
	bool have_pools;
	/* pool_exhaustion_then_recovery: what to put back */
	int restore_nid;
	long restore_target;
	int restore_overcommit;
};

FIXTURE_SETUP(life)
{
	struct hpalloc_version v;
	int ret;

	self->fd = open_dev();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/hpalloc is missing: module not loaded");
	ASSERT_LE(0, self->fd) TH_LOG("open: %s", strerror(errno));
	ret = hpa_version(self->fd, &v);
	if (ret == -ENOTTY ||
	    (!ret && !(v.ioctls & (1ULL << _IOC_NR(HPALLOC_IOC_ALLOC)))))
		SKIP(return, "HPALLOC_IOC_ALLOC not implemented");
	ASSERT_EQ(0, ret);
	HPA_POOLS_SNAPSHOT(self);
	ASSERT_TRUE(self->have_pools) TH_LOG("no pool counters in sysfs");
}


FIXTURE_TEARDOWN(life)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->restore_target > 0 || self->restore_overcommit) {
		hpa_pool_write(self->restore_nid, 0, "target",
			       self->restore_target - 1);
		if (self->restore_overcommit)
			hpa_set_overcommit(self->restore_overcommit > 0);
	}
}

TEST_F(life, free_while_mapped_keeps_data)
{
	size_t len = 2 * SZ_2M;
	long in_use0 = hpa_in_use_now(0);
	uint64_t off;
	char *p, *q;

	ASSERT_EQ(0, dev_alloc(self->fd, len, 0, &off));
	p = map_buf(self->fd, off, len);
	ASSERT_NE(MAP_FAILED, p);
	fill(p, len, SZ_2M, 1);
	ASSERT_EQ(0, dev_free(self->fd, off));
	/* The handle is gone, the mapping and its pages are not. */
	q = map_buf(self->fd, off, len);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(0, check(p, len, SZ_2M, 1));
	fill(p, len, SZ_2M, 2);
	EXPECT_EQ(0, check(p, len, SZ_2M, 2));
	EXPECT_EQ(in_use0 + 2, hpa_in_use_now(0));
	ASSERT_EQ(0, munmap(p, len));
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(life, unmap_keeps_buffer_until_free)
{
	size_t len = 2 * SZ_2M;
	uint64_t off;
	char *p;

	ASSERT_EQ(0, dev_alloc(self->fd, len, 0, &off));
	p = map_buf(self->fd, off, len);
	ASSERT_NE(MAP_FAILED, p);
	fill(p, len, SZ_2M, 3);
	ASSERT_EQ(0, munmap(p, len));
	p = map_buf(self->fd, off, len);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, check(p, len, SZ_2M, 3));
	ASSERT_EQ(0, munmap(p, len));
	ASSERT_EQ(0, dev_free(self->fd, off));
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(life, two_mappings_one_buffer)
{
	size_t len = 2 * SZ_2M;
	uint64_t off;
	char *p, *q, *r;

	ASSERT_EQ(0, dev_alloc(self->fd, len, 0, &off));
	p = map_buf(self->fd, off, len);
	q = map_buf(self->fd, off, len);
	/* the second page alone */
	r = map_buf(self->fd, off + SZ_2M, SZ_2M);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_NE(MAP_FAILED, q);
	ASSERT_NE(MAP_FAILED, r);
	fill(p, len, SZ_2M, 4);
	EXPECT_EQ(0, check(q, len, SZ_2M, 4));
	EXPECT_EQ(0, memcmp(p + SZ_2M, r, SZ_2M));
	ASSERT_EQ(0, munmap(p, len));
	ASSERT_EQ(0, dev_free(self->fd, off));
	EXPECT_EQ(0, check(q, len, SZ_2M, 4));
	ASSERT_EQ(0, munmap(q, len));
	EXPECT_EQ(0, check(r, SZ_2M, SZ_2M, 4 + SZ_2M / 8));
	ASSERT_EQ(0, munmap(r, SZ_2M));
	HPA_EXPECT_POOLS_BACK(self);
}

/* Beyond the buffer, and at an offset inside it that is no page start. */
TEST_F(life, map_outside_buffer_refused)
{
	uint64_t off;
	void *p;

	ASSERT_EQ(0, dev_alloc(self->fd, 2 * SZ_2M, 0, &off));
	p = map_buf(self->fd, off, 3 * SZ_2M);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENXIO, errno);
	p = map_buf(self->fd, off + SZ_2M, 2 * SZ_2M);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENXIO, errno);
	p = map_buf(self->fd, off + 4096, SZ_2M);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd,
		 off);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, dev_free(self->fd, off));
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(life, close_releases_handles)
{
	uint64_t off;
	int i;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, dev_alloc(self->fd, (i + 1) * SZ_2M, 0, &off));
	}
	close(self->fd);
	self->fd = -1;
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(life, close_while_mapped)
{
	size_t len = 2 * SZ_2M;
	uint64_t off;
	char *p;

	ASSERT_EQ(0, dev_alloc(self->fd, len, 0, &off));
	p = map_buf(self->fd, off, len);
	ASSERT_NE(MAP_FAILED, p);
	fill(p, SZ_2M, SZ_2M, 5);
	close(self->fd);
	self->fd = -1;
	/* the second page is touched first after the close */
	fill(p + SZ_2M, SZ_2M, SZ_2M, 6);
	EXPECT_EQ(0, check(p, SZ_2M, SZ_2M, 5));
	EXPECT_EQ(0, check(p + SZ_2M, SZ_2M, SZ_2M, 6));
	ASSERT_EQ(0, munmap(p, len));
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(life, partial_munmap)
{
	size_t len = 4 * SZ_2M;
	uint64_t off;
	char *p;

	ASSERT_EQ(0, dev_alloc(self->fd, len, 0, &off));
	p = map_buf(self->fd, off, len);
	ASSERT_NE(MAP_FAILED, p);
	fill(p, len, SZ_2M, 7);
	ASSERT_EQ(0, dev_free(self->fd, off));

	/* Not at a page boundary: refused, the mapping intact. */
	EXPECT_EQ(-1, munmap(p + SZ_2M + 4096, 4096));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, check(p, len, SZ_2M, 7));

	/* A whole page out of the middle: the others stay. */
	ASSERT_EQ(0, munmap(p + SZ_2M, SZ_2M));
	EXPECT_EQ(SIGSEGV, touch_signal(p + SZ_2M, false));
	EXPECT_EQ(0, check(p, SZ_2M, SZ_2M, 7));
	EXPECT_EQ(0, check(p + 2 * SZ_2M, 2 * SZ_2M, SZ_2M, 7 + SZ_2M / 4));
	/* the pages stay in use while any part of the buffer is mapped */
	EXPECT_EQ(hpa_pools_sum(&self->pools0, 0, HPA_C_IN_USE) + 4,
		  hpa_in_use_now(0));
	ASSERT_EQ(0, munmap(p + 3 * SZ_2M, SZ_2M));
	EXPECT_EQ(0, check(p, SZ_2M, SZ_2M, 7));
	ASSERT_EQ(0, munmap(p, SZ_2M));
	ASSERT_EQ(0, munmap(p + 2 * SZ_2M, SZ_2M));
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(life, mremap_shrink)
{
	size_t len = 4 * SZ_2M;
	uint64_t off;
	char *p, *q;

	ASSERT_EQ(0, dev_alloc(self->fd, len, 0, &off));
	p = map_buf(self->fd, off, len);
	ASSERT_NE(MAP_FAILED, p);
	fill(p, len, SZ_2M, 8);
	/* to no page boundary: refused */
	q = mremap(p, len, SZ_2M + 4096, 0);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EINVAL, errno);
	q = mremap(p, len, 2 * SZ_2M, 0);
	ASSERT_EQ(p, q) TH_LOG("mremap shrink: %s", strerror(errno));
	EXPECT_EQ(0, check(p, 2 * SZ_2M, SZ_2M, 8));
	EXPECT_EQ(SIGSEGV, touch_signal(p + 2 * SZ_2M, false));
	ASSERT_EQ(0, dev_free(self->fd, off));
	ASSERT_EQ(0, munmap(p, 2 * SZ_2M));
	HPA_EXPECT_POOLS_BACK(self);
}

/* A mapping cannot grow past what mmap set up (VM_DONTEXPAND): EFAULT. */
TEST_F(life, mremap_grow_refused)
{
	uint64_t off;
	char *p, *q;

	ASSERT_EQ(0, dev_alloc(self->fd, 4 * SZ_2M, 0, &off));
	p = map_buf(self->fd, off, 2 * SZ_2M);
	ASSERT_NE(MAP_FAILED, p);
	fill(p, 2 * SZ_2M, SZ_2M, 9);
	q = mremap(p, 2 * SZ_2M, 4 * SZ_2M, 0);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	q = mremap(p, 2 * SZ_2M, 4 * SZ_2M, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, check(p, 2 * SZ_2M, SZ_2M, 9));
	ASSERT_EQ(0, munmap(p, 2 * SZ_2M));
	ASSERT_EQ(0, dev_free(self->fd, off));
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(life, mremap_move)
{
	size_t len = 2 * SZ_2M;
	uint64_t off;
	char *p, *q, *hole, *dst;
	long f0;

	ASSERT_EQ(0, dev_alloc(self->fd, len, 0, &off));
	p = map_buf(self->fd, off, len);
	ASSERT_NE(MAP_FAILED, p);
	fill(p, len, SZ_2M, 10);
	hole = mmap(NULL, len + 2 * SZ_2M, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, hole);
	dst = (char *)(((uintptr_t)hole + SZ_2M - 1) & ~(SZ_2M - 1));

	/* To an address that is no page boundary: refused, nothing moved. */
	q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst + 4096);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, check(p, len, SZ_2M, 10));

	q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_EQ(dst, q) TH_LOG("mremap move: %s", strerror(errno));
	EXPECT_EQ(SIGSEGV, touch_signal(p, false));
	f0 = hpa_minflt();
	EXPECT_EQ(0, check(q, len, SZ_2M, 10));
	/* still huge entries: at most one fault per page */
	EXPECT_GE(2, hpa_minflt() - f0);
	ASSERT_EQ(0, dev_free(self->fd, off));
	ASSERT_EQ(0, munmap(q, len));
	munmap(hole, len + 2 * SZ_2M);
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(life, mprotect)
{
	uint64_t off;
	char *p;

	ASSERT_EQ(0, dev_alloc(self->fd, SZ_2M, 0, &off));
	p = map_buf(self->fd, off, SZ_2M);
	ASSERT_NE(MAP_FAILED, p);
	fill(p, SZ_2M, SZ_2M, 11);
	ASSERT_EQ(0, mprotect(p, SZ_2M, PROT_READ));
	EXPECT_EQ(SIGSEGV, touch_signal(p, true));
	EXPECT_EQ(0, check(p, SZ_2M, SZ_2M, 11));
	ASSERT_EQ(0, mprotect(p, SZ_2M, PROT_READ | PROT_WRITE));
	fill(p, SZ_2M, SZ_2M, 12);
	EXPECT_EQ(0, check(p, SZ_2M, SZ_2M, 12));
	/* docs/device.md: PROT_EXEC is refused with EACCES */
	EXPECT_EQ(-1, mprotect(p, SZ_2M, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	/* half a page: refused (no split inside a page) */
	EXPECT_EQ(-1, mprotect(p, 4096, PROT_READ));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, munmap(p, SZ_2M));
	ASSERT_EQ(0, dev_free(self->fd, off));
	HPA_EXPECT_POOLS_BACK(self);
}

/*
 * MADV_DONTNEED on a device mapping either is refused (EINVAL, the kernel's
 * answer for VM_PFNMAP) or drops the page-table entries only: the data is
 * the buffer's and comes back on the next touch.
 */
TEST_F(life, madv_dontneed)
{
	size_t len = 2 * SZ_2M;
	uint64_t off;
	char *p;
	int ret;

	ASSERT_EQ(0, dev_alloc(self->fd, len, 0, &off));
	p = map_buf(self->fd, off, len);
	ASSERT_NE(MAP_FAILED, p);
	fill(p, len, SZ_2M, 13);
	ret = madvise(p, len, MADV_DONTNEED);
	if (ret) {
		EXPECT_EQ(EINVAL, errno);
	} else {
		long f0 = hpa_minflt();

		EXPECT_EQ(0, check(p, len, SZ_2M, 13))
			TH_LOG("MADV_DONTNEED lost the buffer's data");
		EXPECT_EQ(2, hpa_minflt() - f0);
	}
	ret = madvise(p, 4096, MADV_DONTNEED);
	if (ret) {
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(0, check(p, len, SZ_2M, 13));
	TH_LOG("MADV_DONTNEED: %s", ret ? "refused (EINVAL)" : "works");
	ASSERT_EQ(0, munmap(p, len));
	ASSERT_EQ(0, dev_free(self->fd, off));
	HPA_EXPECT_POOLS_BACK(self);
}

/* The child shares the pages and can drop the (shared) handle. */
TEST_F(life, fork_shares_buffer)
{
	size_t len = 2 * SZ_2M;
	int status;
	uint64_t off;
	char *p;
	pid_t pid;

	ASSERT_EQ(0, dev_alloc(self->fd, len, 0, &off));
	p = map_buf(self->fd, off, len);
	ASSERT_NE(MAP_FAILED, p);
	fill(p, len, SZ_2M, 14);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (check(p, len, SZ_2M, 14))
			_exit(1);
		fill(p, len, SZ_2M, 15);
		if (dev_free(self->fd, off))
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child: 1 = wrong data, 2 = FREE failed");
	EXPECT_EQ(0, check(p, len, SZ_2M, 15));
	EXPECT_EQ(-ENOENT, dev_free(self->fd, off));
	ASSERT_EQ(0, munmap(p, len));
	HPA_EXPECT_POOLS_BACK(self);
}

/*
 * A process maps buffers (one by handle, one by plain mmap), forks, and
 * exits first; the orphan keeps the data and writes it, then exits too.
 */
TEST_F(life, fork_parent_exits_first)
{
	int status, pfd[2];
	pid_t mid, orphan = 0;

	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	ASSERT_EQ(0, pipe(pfd));
	mid = fork();
	ASSERT_LE(0, mid);
	if (mid == 0) {
		char *a, *b;
		uint64_t off;
		pid_t o;

		close(pfd[0]);
		if (dev_alloc(self->fd, 2 * SZ_2M, 0, &off))
			_exit(1);
		a = map_buf(self->fd, off, 2 * SZ_2M);
		b = map_buf(self->fd, 0, SZ_2M);
		if (a == MAP_FAILED || b == MAP_FAILED)
			_exit(2);
		fill(a, 2 * SZ_2M, SZ_2M, 16);
		fill(b, SZ_2M, SZ_2M, 17);
		o = fork();
		if (o < 0)
			_exit(3);
		if (o == 0) {
			/* wait for the parent to be gone */
			while (getppid() == mid)
				usleep(1000);
			if (check(a, 2 * SZ_2M, SZ_2M, 16) ||
			    check(b, SZ_2M, SZ_2M, 17))
				_exit(10);
			fill(a, 2 * SZ_2M, SZ_2M, 18);
			if (check(a, 2 * SZ_2M, SZ_2M, 18))
				_exit(11);
			_exit(0);
		}
		if (write(pfd[1], &o, sizeof(o)) != sizeof(o))
			_exit(4);
		_exit(0);	/* mappings, handle and fd still held */
	}
	close(pfd[1]);
	ASSERT_EQ(sizeof(orphan), read(pfd[0], &orphan, sizeof(orphan)));
	close(pfd[0]);
	ASSERT_EQ(mid, waitpid(mid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("parent step %d failed",
						 WEXITSTATUS(status));
	ASSERT_EQ(orphan, waitpid(orphan, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("orphan: 10 = data lost, 11 = writes lost");
	close(self->fd);
	self->fd = -1;
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(life, sigkill_with_mappings_and_handles)
{
	int status, pfd[2];
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = open_dev(), fd2 = open_dev();
		uint64_t off[3];
		char *a, *b, *z;
		int i;

		close(pfd[0]);
		if (fd < 0 || fd2 < 0)
			_exit(1);
		for (i = 0; i < 3; i++)
			if (dev_alloc(fd, (i + 1) * SZ_2M, 0, &off[i]))
				_exit(2);
		a = map_buf(fd, off[0], SZ_2M);
		b = map_buf(fd, off[1], 2 * SZ_2M);	/* then FREEd */
		z = map_buf(fd2, 0, 2 * SZ_2M);
		if (a == MAP_FAILED || b == MAP_FAILED || z == MAP_FAILED)
			_exit(3);
		fill(a, SZ_2M, SZ_2M, 19);
		fill(b, 2 * SZ_2M, SZ_2M, 20);
		fill(z, SZ_2M, SZ_2M, 21);	/* one page never touched */
		if (dev_free(fd, off[1]))
			_exit(4);
		close(fd2);
		if (write(pfd[1], "r", 1) != 1)
			_exit(5);
		for (;;)
			pause();
	}
	close(pfd[1]);
	ASSERT_EQ(1, read(pfd[0], &c, 1)) TH_LOG("child did not get ready");
	close(pfd[0]);
	EXPECT_LT(hpa_pools_sum(&self->pools0, 0, HPA_C_IN_USE),
		  hpa_in_use_now(0));
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	HPA_EXPECT_POOLS_BACK(self);
}

/* ---- threads ------------------------------------------------------------ */

#define NR_THREADS	4
#define THREAD_ROUNDS	20

struct thread_arg {
	int fd;		/* shared file, or -1 for one of its own */
	int id;
	int err;	/* first failure: line number */
	int err_errno;
};

static void *alloc_worker(void *data)
{
	struct thread_arg *t = data;
	int fd = t->fd >= 0 ? t->fd : open_dev();
	int r;

	if (fd < 0) {
		t->err = __LINE__;
		return NULL;
	}
	for (r = 0; r < THREAD_ROUNDS && !t->err; r++) {
		size_t len = (1 + (t->id + r) % 3) * SZ_2M;
		uint64_t seed = (uint64_t)t->id << 32 | r, off = 0;
		bool plain = r % 4 == 3;
		uint64_t *p;
		int ret;

		if (!plain) {
			ret = dev_alloc(fd, len, 0, &off);
			if (ret) {
				t->err = __LINE__;
				t->err_errno = -ret;
				break;
			}
		}
		p = map_buf(fd, off, len);
		if (p == MAP_FAILED) {
			t->err = __LINE__;
			t->err_errno = errno;
			break;
		}
		/* fresh pages are zero: nobody else's data */
		if (p[0] || p[len / 16] || p[len / 8 - 1])
			t->err = __LINE__;
		if (!plain && dev_free(fd, off))
			t->err = __LINE__;
		fill(p, len, SZ_2M, seed);
		sched_yield();
		if (check(p, len, SZ_2M, seed))
			t->err = __LINE__;	/* a page shared with another */
		if (munmap(p, len))
			t->err = __LINE__;
	}
	if (t->fd < 0)
		close(fd);
	return NULL;
}

TEST_F_TIMEOUT(life, threads_alloc_map_free, 120)
{
	struct thread_arg args[NR_THREADS];
	pthread_t th[NR_THREADS];
	int i;

	for (i = 0; i < NR_THREADS; i++) {
		args[i] = (struct thread_arg){
			.fd = i % 2 ? self->fd : -1,
			.id = i,
		};
		ASSERT_EQ(0, pthread_create(&th[i], NULL, alloc_worker,
					    &args[i]));
	}
	for (i = 0; i < NR_THREADS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NR_THREADS; i++) {
		EXPECT_EQ(0, args[i].err)
			TH_LOG("thread %d failed at line %d (errno %d)", i,
			       args[i].err, args[i].err_errno);
	}
	HPA_EXPECT_POOLS_BACK(self);
}

/* ---- running the pool dry ------------------------------------------------ */

static bool overcommit_on(void)
{
	char buf[8] = "";
	int fd = open(HPA_OVERCOMMIT_PARAM, O_RDONLY);

	if (fd < 0)
		return false;
	if (read(fd, buf, sizeof(buf)) < 1)
		buf[0] = 0;
	close(fd);
	return buf[0] == 'Y' || buf[0] == '1';
}

/*
 * Without overcommit a pool holds what its target says: the allocation
 * after the last free page fails with a clean ENOMEM, counted as a failure,
 * and works again once a page is freed.
 */
TEST_F_TIMEOUT(life, pool_exhaustion_then_recovery, 90)
{
	const int want = 4;
	int nid, i, n, avail;
	uint64_t off[32];
	long target0, fail0;
	cpu_set_t set;
	void *p;

	/* stay on one CPU, so "local" is one pool */
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(set), &set));
	for (i = 0; i < CPU_SETSIZE && !CPU_ISSET(i, &set); i++)
		;
	CPU_ZERO(&set);
	CPU_SET(i, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
	nid = hpa_cpu_node();
	ASSERT_LE(0, nid);
	target0 = hpa_pool_read(nid, 0, "target");
	fail0 = hpa_pool_read(nid, 0, "failures");
	if (target0 < 0 || access(HPA_OVERCOMMIT_PARAM, W_OK))
		SKIP(return, "no writable pool target / overcommit parameter");
	self->restore_nid = nid;
	self->restore_overcommit = overcommit_on() ? 1 : -1;
	self->restore_target = target0 + 1;
	ASSERT_EQ(0, hpa_set_overcommit(false));
	ASSERT_EQ(0, hpa_pool_write(nid, 0, "target", target0 + want));
	ASSERT_EQ(target0 + want, hpa_pool_read(nid, 0, "target"));
	hpa_pools_quiesce(20000);
	avail = hpa_pool_read(nid, 0, "free");
	ASSERT_LE(want, avail);
	ASSERT_GT(31, avail) TH_LOG("pool too big for this test");

	for (n = 0; n <= avail; n++) {
		int ret = dev_alloc(self->fd, SZ_2M, 0, &off[n]);

		if (ret) {
			EXPECT_EQ(-ENOMEM, ret);
			break;
		}
	}
	EXPECT_EQ(avail, n) TH_LOG("allocations until ENOMEM");
	EXPECT_LT(fail0, hpa_pool_read(nid, 0, "failures"));
	EXPECT_EQ(0, hpa_pool_read(nid, 0, "free"));
	/* plain mmap is refused the same way */
	p = map_buf(self->fd, 0, SZ_2M);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENOMEM, errno);

	/* recovery: a freed page (once zeroed) can be had again */
	if (n > 0) {
		ASSERT_EQ(0, dev_free(self->fd, off[--n]));
		hpa_pools_quiesce(20000);
		EXPECT_EQ(0, dev_alloc(self->fd, SZ_2M, 0, &off[n]));
		n++;
	}
	for (i = 0; i < n; i++) {
		EXPECT_EQ(0, dev_free(self->fd, off[i]));
	}
	hpa_pools_quiesce(20000);
	EXPECT_EQ(0, hpa_pool_write(nid, 0, "target", target0));
	EXPECT_EQ(0, hpa_set_overcommit(self->restore_overcommit > 0));
	self->restore_target = 0;
	self->restore_overcommit = 0;
	HPA_EXPECT_POOLS_BACK(self);
}

/* With overcommit: a node cannot give more than it has, and says so. */
TEST_F(life, node_exhaustion_enomem)
{
	struct hpalloc_alloc a;
	int ret;

	/* node 0 has 1 GiB in the test guest; ask for 4 */
	ret = dev_alloc_full(self->fd, 4 * SZ_1G, 0, HPALLOC_POLICY_BIND, 1, 0,
			     &a);
	EXPECT_EQ(-ENOMEM, ret);
	HPA_EXPECT_POOLS_BACK(self);
}

/*
 * 1 GiB pages at run time: the reserved node's pool gives its page back to
 * the page allocator, and ALLOCs (overcommit) must find that free range
 * again, each right after the FREE of the one before; then the pool takes
 * it back.  Nothing in between can take a
 * whole GiB of that node, so this holds on every run, unlike asking a node
 * that has been used for a while.
 */
TEST_F_TIMEOUT(life, one_gib_page_at_run_time, 240)
{
	struct hpalloc_alloc a;
	long target0, tried0;
	int ret, nid, i;

	nid = hpa_reserved_1g_node();
	if (nid < 0)
		SKIP(return, HPA_NO_1G_RESERVED);
	if (!overcommit_on())
		SKIP(return, "overcommit is off");
	hpa_pools_quiesce(30000);
	target0 = hpa_pool_read(nid, 1, "target");
	tried0 = hpa_pool_read(nid, 1, "ranges_tried");
	ASSERT_EQ(0, hpa_pool_write(nid, 1, "target", target0 - 1));
	ASSERT_EQ(target0 - 1, hpa_pool_read(nid, 1, "total"));
	/*
	 * FREE hands the page to a worker that gives it back to the page
	 * allocator; the next ALLOC comes at once, while it may still be on
	 * its way, and must wait for it rather than fail (the range is the
	 * node's only free GiB when the kernel image took the other one).
	 */
	for (i = 0; i < 4; i++) {
		ret = dev_alloc_full(self->fd, SZ_1G, HPALLOC_PAGE_SIZE_1G,
				     HPALLOC_POLICY_BIND, 1ULL << nid, 0, &a);
		EXPECT_EQ(0, ret) TH_LOG("node%d, round %d: the GiB it just gave back",
					 nid, i);
		if (ret)
			break;
		EXPECT_EQ(1ULL << nid, a.nodes);
		EXPECT_EQ(0, dev_free(self->fd, a.offset));
	}
	/* the search went through alloc_contig_range(), and counted it */
	EXPECT_LT(tried0, hpa_pool_read(nid, 1, "ranges_tried"));
	hpa_pools_quiesce(30000);
	EXPECT_EQ(0, hpa_pool_write(nid, 1, "target", target0));
	EXPECT_EQ(target0, hpa_pool_read(nid, 1, "target"));
	HPA_EXPECT_POOLS_BACK(self);
}

/* ---- 2 MiB and 1 GiB pages ----------------------------------------------- */

FIXTURE(life_ps) {
	int fd;
	struct hpa_pools pools0;
	bool have_pools;
	size_t psz;
	uint64_t off;
	char *p;
};

FIXTURE_VARIANT(life_ps) {
	int ps;		/* 0: 2 MiB, 1: 1 GiB */
};

FIXTURE_VARIANT_ADD(life_ps, page_2m) { .ps = 0 };
FIXTURE_VARIANT_ADD(life_ps, page_1g) { .ps = 1 };

/* One page of the variant's size, mapped and filled. */
FIXTURE_SETUP(life_ps)
{
	struct hpalloc_version v;
	struct hpalloc_alloc a;
	uint64_t mask;
	int ret, nid;

	self->p = MAP_FAILED;
	self->fd = open_dev();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/hpalloc is missing: module not loaded");
	ASSERT_LE(0, self->fd);
	ret = hpa_version(self->fd, &v);
	if (ret == -ENOTTY ||
	    (!ret && !(v.ioctls & (1ULL << _IOC_NR(HPALLOC_IOC_ALLOC)))))
		SKIP(return, "HPALLOC_IOC_ALLOC not implemented");
	ASSERT_EQ(0, ret);
	self->psz = hpa_psize_bytes(variant->ps);
	if (!(v.page_sizes & self->psz))
		SKIP(return, "page size %zu not offered", self->psz);
	/* 2 MiB pages: any node */
	mask = (1ULL << v.nr_node_ids) - 1;
	if (variant->ps) {
		nid = hpa_reserved_1g_node();
		if (nid < 0)
			SKIP(return, HPA_NO_1G_RESERVED);
		mask = 1ULL << nid;
	}
	HPA_POOLS_SNAPSHOT(self);
	ASSERT_TRUE(self->have_pools);
	ret = dev_alloc_full(self->fd, self->psz, self->psz,
			     HPALLOC_POLICY_BIND, mask, 0, &a);
	ASSERT_EQ(0, ret);
	self->off = a.offset;
	self->p = map_buf(self->fd, self->off, self->psz);
	ASSERT_NE(MAP_FAILED, self->p);
	fill(self->p, self->psz, self->psz, 100 + variant->ps);
}

FIXTURE_TEARDOWN(life_ps)
{
	if (self->p != MAP_FAILED)
		munmap(self->p, self->psz);
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(life_ps, free_then_unmap)
{
	long f0;

	ASSERT_EQ(0, dev_free(self->fd, self->off));
	f0 = hpa_minflt();
	EXPECT_EQ(0, check(self->p, self->psz, self->psz, 100 + variant->ps));
	EXPECT_GE(1, hpa_minflt() - f0);
	EXPECT_EQ(hpa_pools_sum(&self->pools0, variant->ps, HPA_C_IN_USE) + 1,
		  hpa_in_use_now(variant->ps));
	ASSERT_EQ(0, munmap(self->p, self->psz));
	self->p = MAP_FAILED;
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(life_ps, mprotect_readonly)
{
	int ret = mprotect(self->p, self->psz, PROT_READ);

	if (variant->ps == 1 && hpa_kernel_before(6, 12)) {
		/* docs/device.md: no mprotect of PUD entries before 6.12 */
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EINVAL, errno);
	} else {
		ASSERT_EQ(0, ret) TH_LOG("mprotect: %s", strerror(errno));
		EXPECT_EQ(SIGSEGV, touch_signal(self->p, true));
		EXPECT_EQ(0, mprotect(self->p, self->psz,
				      PROT_READ | PROT_WRITE));
		self->p[self->psz - 1] = 7;
	}
	EXPECT_EQ(0, touch_signal(self->p, true));
	EXPECT_EQ(0, dev_free(self->fd, self->off));
	ASSERT_EQ(0, munmap(self->p, self->psz));
	self->p = MAP_FAILED;
	HPA_EXPECT_POOLS_BACK(self);
}

/*
 * MADV_DONTNEED of one 2 MiB piece: inside a 1 GiB page the kernel drops
 * the whole PUD entry (or, where the vma is VM_PFNMAP, refuses with
 * EINVAL); the next touch maps it again.  Either way the data stays and
 * the page stays in use until the buffer goes.
 */
TEST_F(life_ps, madv_dontneed_one_piece)
{
	char *piece = self->p + (variant->ps ? SZ_1G / 2 : 0);
	char *mark = piece + SZ_2M / 2;	/* away from fill()'s pattern */
	size_t bad;
	long f0, faults;
	int ret, err, same;

	memcpy(mark, "piece", 6);
	/* run the code once first: a forked test faults its text pages in */
	ASSERT_EQ(0, check(self->p, self->psz, self->psz, 100 + variant->ps));
	ASSERT_EQ(0, strcmp(mark, "piece"));
	ret = madvise(piece, SZ_2M, MADV_DONTNEED);
	err = errno;
	f0 = hpa_minflt();
	same = !strcmp(mark, "piece");
	bad = check(self->p, self->psz, self->psz, 100 + variant->ps);
	faults = hpa_minflt() - f0;

	TH_LOG("MADV_DONTNEED of 2 MiB in a %zu MiB page: %s, %ld fault(s) after",
	       self->psz >> 20, ret ? strerror(err) : "works", faults);
	EXPECT_TRUE(same);
	EXPECT_EQ(0, bad);
	if (ret) {
		EXPECT_EQ(EINVAL, err);
		EXPECT_EQ(0, faults);	/* nothing was unmapped */
	} else {
		/* one huge fault maps the piece (or the whole 1 GiB) again */
		EXPECT_LE(1, faults);
		EXPECT_GE(2, faults);
	}
	EXPECT_EQ(hpa_pools_sum(&self->pools0, variant->ps, HPA_C_IN_USE) + 1,
		  hpa_in_use_now(variant->ps));
	EXPECT_EQ(0, dev_free(self->fd, self->off));
	ASSERT_EQ(0, munmap(self->p, self->psz));
	self->p = MAP_FAILED;
	HPA_EXPECT_POOLS_BACK(self);
}

/*
 * mremap() moving the page elsewhere.  2 MiB entries move (the kernel moves
 * PMDs and flushes).  A 1 GiB PUD entry cannot be moved by the kernel (it
 * takes it for a corrupt table, clears it without a TLB flush and logs "bad
 * pud"; docs/device.md), so the module refuses the move.  Either way the
 * old address faults afterwards in this very process, the data is where it
 * belongs, and the guest's kernel log stays clean.
 */
TEST_F(life_ps, mremap_move_old_address_faults)
{
	size_t psz = self->psz;
	char *hole, *dst, *q;

	hole = mmap(NULL, 2 * psz, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, hole);
	dst = (char *)(((uintptr_t)hole + psz - 1) & ~(psz - 1));
	q = mremap(self->p, psz, psz, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (variant->ps) {
		EXPECT_EQ(MAP_FAILED, q);
		EXPECT_EQ(EINVAL, errno);
		if (q != MAP_FAILED)
			self->p = q;
		EXPECT_EQ(0, check(self->p, psz, psz, 100 + variant->ps));
		/* shrinking in place is no move: a 1 GiB page cannot shrink */
		q = mremap(self->p, psz, SZ_2M, MREMAP_MAYMOVE);
		EXPECT_EQ(MAP_FAILED, q);
	} else {
		ASSERT_EQ(dst, q) TH_LOG("mremap move: %s", strerror(errno));
		EXPECT_EQ(SIGSEGV, hpa_touch_here(self->p));
		self->p = q;
		EXPECT_EQ(0, check(self->p, psz, psz, 100 + variant->ps));
	}
	EXPECT_EQ(0, dev_free(self->fd, self->off));
	ASSERT_EQ(0, munmap(self->p, psz));
	EXPECT_EQ(SIGSEGV, hpa_touch_here(self->p));
	self->p = MAP_FAILED;
	munmap(hole, 2 * psz);
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(life_ps, killed_holding_it)
{
	int status, pfd[2];
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(pfd[0]);
		/* the child touches the (shared) page and holds fd + map */
		self->p[0] = 1;
		if (write(pfd[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	ASSERT_EQ(1, read(pfd[0], &c, 1));
	close(pfd[0]);
	/* the parent lets go of everything first */
	ASSERT_EQ(0, munmap(self->p, self->psz));
	self->p = MAP_FAILED;
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(hpa_pools_sum(&self->pools0, variant->ps, HPA_C_IN_USE) + 1,
		  hpa_in_use_now(variant->ps)) TH_LOG("freed under the child");
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_HARNESS_MAIN
