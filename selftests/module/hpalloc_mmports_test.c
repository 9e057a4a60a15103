// SPDX-License-Identifier: GPL-2.0
/*
 * The ideas of the kernel's own mm selftests that apply to this device,
 * ported: cow (fork while the kernel pins a page), hugetlb_dio (O_DIRECT
 * at every position of a huge page leaves no reference behind),
 * hugetlb-madvise (each madvise either works or is refused cleanly, and the
 * data stays), hugetlb_fault_after_madv (faults racing MADV_DONTNEED), and
 * the dma-buf heap test's zero-on-reuse over many buffers.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "hpa_util.h"
#include "hpa_test_pool.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif
#ifndef MADV_COLD
#define MADV_COLD		20
#define MADV_PAGEOUT		21
#endif

FIXTURE(port) {
	int fd;
	struct hpa_pools pools0;
	bool have_pools;
};

FIXTURE_SETUP(port)
{
	self->fd = open(HPALLOC_DEVICE, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/hpalloc is missing: module not loaded");
	ASSERT_LE(0, self->fd);
	HPA_POOLS_SNAPSHOT(self);
	ASSERT_TRUE(self->have_pools);
}

FIXTURE_TEARDOWN(port)
{
	if (self->fd >= 0)
		close(self->fd);
}

static uint64_t *map_new(int fd, size_t len, uint64_t *off)
{
	void *p;

	if (dev_alloc(fd, len, 0, off))
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, *off);
	if (p == MAP_FAILED) {
		dev_free(fd, *off);
		return NULL;
	}
	return p;
}

static void unmap_free(int fd, void *p, size_t len, uint64_t off)
{
	munmap(p, len);
	dev_free(fd, off);
}

/*
 * cow: a page the kernel pins (vmsplice into a pipe) stays the page both
 * processes map after fork; a write by the child shows in the pipe and in
 * the parent, so no copy was made on either side.
 */
TEST_F(port, fork_while_pinned_shares_one_page)
{
	size_t n = 64 << 10, i;
	struct iovec iov;
	uint64_t off, *p, *back;
	int pfd[2], st;
	pid_t pid;

	p = map_new(self->fd, SZ_2M, &off);
	ASSERT_NE(NULL, p);
	for (i = 0; i < SZ_2M / 8; i++)
		p[i] = i;
	ASSERT_EQ(0, pipe(pfd));
	iov.iov_base = p;
	iov.iov_len = n;
	ASSERT_EQ((ssize_t)n, vmsplice(pfd[1], &iov, 1, 0))
		TH_LOG("vmsplice: %s", strerror(errno));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (i = 0; i < n / 8; i++)
			p[i] = ~i;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	back = malloc(n);
	ASSERT_NE(NULL, back);
	for (i = 0; i < n; ) {
		ssize_t r = read(pfd[0], (char *)back + i, n - i);

		ASSERT_LT(0, r);
		i += r;
	}
	for (i = 0; i < n / 8; i++) {
		if (back[i] != ~i || p[i] != ~i) {
			EXPECT_EQ(~i, back[i]) TH_LOG("pipe, word %zu", i);
			EXPECT_EQ(~i, p[i]) TH_LOG("parent, word %zu", i);
			break;
		}
	}
	free(back);
	close(pfd[0]);
	close(pfd[1]);
	unmap_free(self->fd, p, SZ_2M, off);
	HPA_EXPECT_POOLS_BACK(self);
}

/*
 * hugetlb_dio: O_DIRECT reads into the first, the last, a middle 4 KiB of a
 * page and across two pages each return the file's bytes, and leave no
 * reference: the pages go back to the pool (a leaked one would stay
 * "zeroing" on the pinned list).
 */
TEST_F(port, odirect_at_every_position_leaves_no_reference)
{
	static const size_t at[] = { 0, SZ_2M - 4096, SZ_2M / 2 + 4096,
				     SZ_2M - 8192 };
	static const size_t len[] = { 4096, 4096, 65536, 16384 };
	uint64_t off, *p;
	size_t c, i;
	int fd;

	fd = open("/mnt/disk/pattern", O_RDONLY | O_DIRECT);
	if (fd < 0)
		SKIP(return, "no /mnt/disk/pattern for O_DIRECT");
	for (c = 0; c < ARRAY_SIZE(at); c++) {
		uint64_t fpos = 3 * SZ_2M;
		ssize_t n;

		p = map_new(self->fd, 2 * SZ_2M, &off);
		ASSERT_NE(NULL, p);
		n = pread(fd, (char *)p + at[c], len[c], fpos);
		ASSERT_EQ((ssize_t)len[c], n)
			TH_LOG("case %zu: %s", c, strerror(errno));
		for (i = 0; i < len[c] / 8; i++)
			if (p[at[c] / 8 + i] != fpos + i * 8) {
				ASSERT_EQ(fpos + i * 8, p[at[c] / 8 + i]);
			}
		unmap_free(self->fd, p, 2 * SZ_2M, off);
		HPA_EXPECT_POOLS_BACK(self);
	}
	close(fd);
}

/*
 * hugetlb-madvise: every advice either works or fails with EINVAL (advice
 * that needs anonymous or shmem memory) and the data stays where it was.
 */
TEST_F(port, madvise_works_or_refuses_and_keeps_data)
{
	static const struct { int adv; const char *name; } advs[] = {
		{ MADV_DONTNEED, "DONTNEED" }, { MADV_FREE, "FREE" },
		{ MADV_REMOVE, "REMOVE" }, { MADV_WILLNEED, "WILLNEED" },
		{ MADV_COLD, "COLD" }, { MADV_PAGEOUT, "PAGEOUT" },
		{ MADV_POPULATE_READ, "POPULATE_READ" },
		{ MADV_POPULATE_WRITE, "POPULATE_WRITE" },
		{ MADV_DONTFORK, "DONTFORK" }, { MADV_DOFORK, "DOFORK" },
	};
	uint64_t off, *p;
	size_t a, i;

	p = map_new(self->fd, 2 * SZ_2M, &off);
	ASSERT_NE(NULL, p);
	for (i = 0; i < 2 * SZ_2M / 8; i += 512)
		p[i] = i * 3 + 1;
	for (a = 0; a < ARRAY_SIZE(advs); a++) {
		int ret = madvise(p, 2 * SZ_2M, advs[a].adv);
		int err = errno;

		TH_LOG("MADV_%s: %s", advs[a].name, ret ? strerror(err) : "ok");
		if (ret)
			/* ENODEV: MADV_REMOVE's fallocate on a device */
			EXPECT_TRUE(err == EINVAL || err == EFAULT ||
				    err == EOPNOTSUPP || err == ENODEV)
				TH_LOG("MADV_%s: %s", advs[a].name,
				       strerror(err));
		for (i = 0; i < 2 * SZ_2M / 8; i += 512)
			if (p[i] != i * 3 + 1) {
				ASSERT_EQ(i * 3 + 1, p[i])
					TH_LOG("after MADV_%s", advs[a].name);
			}
	}
	unmap_free(self->fd, p, 2 * SZ_2M, off);
	HPA_EXPECT_POOLS_BACK(self);
}

struct madv_race {
	volatile uint64_t *p;
	volatile int stop;
	long zaps, bad;
};

static void *zapper(void *arg)
{
	struct madv_race *r = arg;

	while (!r->stop) {
		if (!madvise((void *)r->p, SZ_2M, MADV_DONTNEED))
			r->zaps++;
	}
	return NULL;
}

/*
 * hugetlb_fault_after_madv: one thread faults the page in again and again
 * while another zaps it with MADV_DONTNEED; every read sees the data.
 */
TEST_F_TIMEOUT(port, faults_racing_madv_dontneed, 60)
{
	struct madv_race r = { 0 };
	long touches = 0, end;
	pthread_t th;
	uint64_t off, *p;

	p = map_new(self->fd, SZ_2M, &off);
	ASSERT_NE(NULL, p);
	p[0] = 42;
	p[SZ_2M / 8 - 1] = 43;
	r.p = p;
	ASSERT_EQ(0, pthread_create(&th, NULL, zapper, &r));
	end = hpa_now_ms() + 2000;
	while (hpa_now_ms() < end) {
		if (r.p[0] != 42 || r.p[SZ_2M / 8 - 1] != 43)
			r.bad++;
		touches++;
	}
	r.stop = 1;
	pthread_join(th, NULL);
	TH_LOG("%ld reads against %ld zaps", touches, r.zaps);
	EXPECT_EQ(0, r.bad);
	unmap_free(self->fd, p, SZ_2M, off);
	HPA_EXPECT_POOLS_BACK(self);
}

/*
 * The dma-buf heap test's zero-on-reuse, over many buffers: rounds of 32
 * buffers, every 4 KiB of each written with a pattern and freed; every
 * buffer of the next round reads zero everywhere.
 */
TEST_F_TIMEOUT(port, zero_on_reuse_over_many_buffers, 180)
{
	enum { ROUNDS = 4, NBUF = 32 };
	uint64_t off[NBUF], *p[NBUF];
	int r, b;
	size_t i;
	long dirty = 0;

	for (r = 0; r < ROUNDS; r++) {
		for (b = 0; b < NBUF; b++) {
			p[b] = map_new(self->fd, SZ_2M, &off[b]);
			ASSERT_NE(NULL, p[b]) TH_LOG("round %d buffer %d", r, b);
			for (i = 0; i < SZ_2M / 8; i += 512) {
				if (p[b][i] || p[b][i + 511])
					dirty++;
				p[b][i] = p[b][i + 511] = 0xa5a5a5a5a5a5a5a5ULL;
			}
		}
		for (b = 0; b < NBUF; b++)
			unmap_free(self->fd, p[b], SZ_2M, off[b]);
	}
	EXPECT_EQ(0, dirty) TH_LOG("4 KiB blocks that were not zero");
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_HARNESS_MAIN
