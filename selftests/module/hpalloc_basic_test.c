// SPDX-License-Identifier: GPL-2.0
/*
 * The first promises of /dev/hpalloc: a plain mmap of the device gives
 * zeroed 2 MiB pages, 2 MiB aligned, each mapped by one PMD (one fault per
 * 2 MiB), on the caller's node; bad mappings are refused; the module stays
 * loaded while a mapping lives.
 */
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "hpa_util.h"

/* docs/device.md: the device node is world read/write, like /dev/zero. */
#define HPALLOC_DEV_MODE 0666

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = open("/dev/hpalloc", O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/hpalloc is missing: module not loaded");
	ASSERT_LE(0, self->fd) TH_LOG("open /dev/hpalloc: %s", strerror(errno));
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		close(self->fd);
}

static void *map_dev(int fd, size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
}

TEST(device_node)
{
	struct stat st;

	ASSERT_EQ(0, stat("/dev/hpalloc", &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(HPALLOC_DEV_MODE, st.st_mode & 07777);
	EXPECT_EQ(0, access("/sys/module/hpalloc", F_OK));
}

TEST_F(dev, mapping_is_2m_aligned)
{
	size_t len;

	for (len = SZ_2M; len <= 4 * SZ_2M; len += SZ_2M) {
		char *p = map_dev(self->fd, len);

		ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap %zu: %s", len,
						strerror(errno));
		EXPECT_EQ(0, (uintptr_t)p % SZ_2M);
		EXPECT_EQ(0, munmap(p, len));
	}
}

/* Touch every 4 KiB page of each 2 MiB page: one minor fault per 2 MiB. */
TEST_F(dev, one_fault_per_2m)
{
	size_t len = 4 * SZ_2M, off;
	long before, after;
	char *p;

	p = map_dev(self->fd, len);
	ASSERT_NE(MAP_FAILED, p);
	before = hpa_minflt();
	for (off = 0; off < len; off += 4096)
		p[off] = 1;
	after = hpa_minflt();
	EXPECT_EQ(len / SZ_2M, after - before)
		TH_LOG("%ld faults for %zu x 2 MiB", after - before, len / SZ_2M);
	EXPECT_EQ(0, munmap(p, len));
}

TEST_F(dev, fresh_mapping_reads_zero)
{
	size_t len = 2 * SZ_2M, i;
	uint64_t *p;
	int round;

	/* Dirty pages, give them back, and take pages again: all zero. */
	for (round = 0; round < 3; round++) {
		p = map_dev(self->fd, len);
		ASSERT_NE(MAP_FAILED, p);
		for (i = 0; i < len / 8; i++)
			if (p[i]) {
				ASSERT_EQ(0, p[i]) TH_LOG("round %d word %zu",
							  round, i);
			}
		memset(p, 0xa5, len);
		ASSERT_EQ(0, munmap(p, len));
	}
}

TEST_F(dev, data_survives_and_is_shared_with_fork)
{
	size_t len = SZ_2M, i;
	uint32_t *p;
	pid_t pid;
	int status;

	p = map_dev(self->fd, len);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < len / 4; i++)
		p[i] = i * 2654435761u;
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (i = 0; i < len / 4; i++)
			if (p[i] != (uint32_t)(i * 2654435761u))
				_exit(1);
		for (i = 0; i < len / 4; i++)
			p[i] = ~p[i];
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("child saw other data");
	for (i = 0; i < len / 4; i++)
		if (p[i] != ~(uint32_t)(i * 2654435761u)) {
			ASSERT_EQ(~(uint32_t)(i * 2654435761u), p[i]);
		}
	EXPECT_EQ(0, munmap(p, len));
}

TEST_F(dev, page_on_calling_cpus_node)
{
	int ncpu = sysconf(_SC_NPROCESSORS_ONLN), cpu;

	if (hpa_memory_block_size() == 0)
		SKIP(return, "no memory block info in sysfs");
	for (cpu = 0; cpu < ncpu; cpu++) {
		int want = hpa_node_of_cpu(cpu);
		cpu_set_t set;
		uint64_t phys;
		char *p;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
		p = map_dev(self->fd, SZ_2M);
		ASSERT_NE(MAP_FAILED, p);
		p[0] = 1;
		phys = hpa_pagemap_phys(p);
		ASSERT_NE(0, phys) TH_LOG("no pfn in pagemap (not root?)");
		EXPECT_EQ(0, phys % SZ_2M);
		EXPECT_EQ(want, hpa_node_of_phys(phys))
			TH_LOG("cpu %d: page at %#llx", cpu,
			       (unsigned long long)phys);
		EXPECT_EQ(0, munmap(p, SZ_2M));
	}
}

TEST_F(dev, bad_mmap_arguments)
{
	char *want;
	void *p, *q;

	p = mmap(NULL, 0, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);

	p = mmap(NULL, SZ_2M + 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);

	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);

	p = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);

	/* An offset that names no buffer of this file. */
	p = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd,
		 12345 * 4096L);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);

	/* A fixed address that is not 2 MiB aligned cannot be PMD mapped. */
	p = mmap(NULL, 2 * SZ_2M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	want = (char *)(((uintptr_t)p + SZ_2M) & ~(SZ_2M - 1)) + 4096;
	q = mmap(want, SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 self->fd, 0);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EINVAL, errno);
	munmap(p, 2 * SZ_2M);
}

TEST_F(dev, write_only_fd_refused)
{
	int wfd = open("/dev/hpalloc", O_WRONLY);
	void *p;

	ASSERT_LE(0, wfd);
	p = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EACCES, errno);
	close(wfd);
}

/* A mapping holds the module; rmmod must be refused until it is gone. */
TEST_F(dev, module_pinned_by_mapping)
{
	char *p = map_dev(self->fd, SZ_2M);

	ASSERT_NE(MAP_FAILED, p);
	p[0] = 1;
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(-1, syscall(SYS_delete_module, "hpalloc", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_EQ(0, access("/dev/hpalloc", F_OK));
	EXPECT_EQ(0, munmap(p, SZ_2M));
}

TEST_HARNESS_MAIN
