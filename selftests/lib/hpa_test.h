/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the library's tests: the kselftest harness, the library's
 * internal interfaces, and the fake primitive layer (fake_prim.c) that unit
 * tests put under the allocator instead of the OS.
 */
#ifndef HPA_TEST_H
#define HPA_TEST_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "internal.h"
#include "fake_prim.h"

/*
 * Run fn in a child; return its stderr text in buf and its fate: the
 * signal that killed it, or 0 with *status the exit code.
 */
static inline int run_child(void (*fn)(void *), void *arg, char *buf,
			    size_t len, int *status)
{
	int pfd[2], st = 0;
	ssize_t n, got = 0;
	pid_t pid;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 2);
		close(pfd[0]);
		fn(arg);
		_exit(0);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], buf + got, len - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = 0;
	close(pfd[0]);
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st))
		return WTERMSIG(st);
	if (status)
		*status = WEXITSTATUS(st);
	return 0;
}

/*
 * Guest builds (-DHPA_TEST_GUEST, installed in build/guest-tests/lib) run
 * under TCG, about 100x slower: fewer operations, and they are tests of
 * the device backend, so they skip without /dev/hpalloc and insist on the
 * device backend with it.
 */
#ifdef HPA_TEST_GUEST
#define HPA_GUEST_SCALE(host, guest)	(guest)
#define HPA_REQUIRE_DEVICE() do { \
	struct hpa_stats st_ = { .size = sizeof(st_) }; \
	if (access("/dev/hpalloc", F_OK)) \
		SKIP(return, "no /dev/hpalloc: the module is not loaded"); \
	hpa_stats(&st_); \
	ASSERT_EQ(HPA_BACKEND_DEVICE, st_.backend) \
		TH_LOG("/dev/hpalloc exists but the library chose %s", \
		       hpa_backend_name(st_.backend)); \
} while (0)
#else
#define HPA_GUEST_SCALE(host, guest)	(host)
#define HPA_REQUIRE_DEVICE() do { } while (0)
#endif

/* hugetlb pool of 2 MiB pages: tests that resize it restore it. */
#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"
#define FREE_HUGEPAGES	"/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"

/* xorshift64: a seeded sequence for randomised tests (s must not be 0). */
static inline uint64_t hpa_test_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline long read_num(const char *path)
{
	char buf[32] = "";
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fgets(buf, sizeof(buf), f))
			v = strtol(buf, NULL, 10);
		fclose(f);
	}
	return v;
}

static inline bool write_num(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	bool ok;

	if (!f)
		return false;
	ok = fprintf(f, "%ld\n", v) > 0;
	return fclose(f) == 0 && ok;
}

#endif
