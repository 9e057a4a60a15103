/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the hpalloc selftests: observe the module from outside
 * (fault counts, physical addresses from pagemap, node memory ranges).
 */
#ifndef HPA_UTIL_H
#define HPA_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/mempolicy.h>

#define SZ_2M (2UL << 20)
#define SZ_1G (1UL << 30)

/* True when the running kernel is older than major.minor. */
static inline bool hpa_kernel_before(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	uname(&u);
	sscanf(u.release, "%d.%d", &ma, &mi);
	return ma < major || (ma == major && mi < minor);
}

/*
 * Automatic NUMA balancing (on by default on a NUMA machine, and the guests
 * have three nodes) unmaps a task's anonymous memory now and then to see
 * where it is used; the next touch takes a "hinting" fault that getrusage()
 * counts as a minor fault.  A test that counts its own faults while it
 * touches a 1 GiB page for seconds under TCG saw its stack's hinting faults
 * added to the page's one.  The scanner passes over tasks whose memory
 * policy lacks MPOL_F_MOF, and MPOL_LOCAL places memory as the default
 * policy does, so every program that includes this header runs under it.
 * Without CONFIG_NUMA the call fails with ENOSYS and nothing is needed.
 */
__attribute__((constructor)) static void hpa_no_numa_hinting(void)
{
	syscall(SYS_set_mempolicy, MPOL_LOCAL, NULL, 0UL);
}

/* Drop a capability from the effective and permitted sets. */
static inline int hpa_drop_cap(int cap)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[cap / 32].effective &= ~(1U << (cap % 32));
	d[cap / 32].permitted &= ~(1U << (cap % 32));
	return syscall(SYS_capset, &h, d);
}

/* Minor faults of this process so far (one per huge page mapped). */
static inline long hpa_minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* Physical address behind a mapped user address (root only), 0 if none. */
static inline uint64_t hpa_pagemap_phys(const void *addr)
{
	long psz = sysconf(_SC_PAGESIZE);
	uint64_t ent = 0;
	off_t off = (uintptr_t)addr / psz * sizeof(ent);
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &ent, sizeof(ent), off) != sizeof(ent))
		ent = 0;
	close(fd);
	if (!(ent & (1ULL << 63)) || !(ent & ((1ULL << 55) - 1)))
		return 0;
	return (ent & ((1ULL << 55) - 1)) * psz + (uintptr_t)addr % psz;
}

static inline uint64_t hpa_memory_block_size(void)
{
	char buf[64] = "";
	FILE *f = fopen("/sys/devices/system/memory/block_size_bytes", "r");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return strtoull(buf, NULL, 16);
}

/*
 * The node whose memory blocks hold a physical address, from
 * /sys/devices/system/node/nodeN/memoryM links; -1 if none does.
 */
static inline int hpa_node_of_phys(uint64_t phys)
{
	uint64_t bsz = hpa_memory_block_size();
	char path[64];
	int node;

	if (!bsz)
		return -1;
	for (node = 0; node < 64; node++) {
		struct dirent *de;
		DIR *d;

		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d",
			 node);
		d = opendir(path);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			unsigned long blk;

			if (sscanf(de->d_name, "memory%lu", &blk) != 1)
				continue;
			if (phys / bsz == blk) {
				closedir(d);
				return node;
			}
		}
		closedir(d);
	}
	return -1;
}

static inline int hpa_nr_nodes_online(void)
{
	char path[64];
	int node, n = 0;

	for (node = 0; node < 64; node++) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d",
			 node);
		if (access(path, F_OK) == 0)
			n++;
	}
	return n;
}

/* The node of a CPU, from /sys/devices/system/cpu/cpuN/nodeM. */
static inline int hpa_node_of_cpu(int cpu)
{
	char path[96];
	int node;

	for (node = 0; node < 64; node++) {
		snprintf(path, sizeof(path),
			 "/sys/devices/system/cpu/cpu%d/node%d", cpu, node);
		if (access(path, F_OK) == 0)
			return node;
	}
	return -1;
}

/* The KernelPageSize line of the smaps entry that contains addr, in kB. */
static inline long hpa_smaps_kernel_page_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long lo, hi, a = (uintptr_t)addr;
	char line[256];
	int inside = 0;
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			inside = a >= lo && a < hi;
			continue;
		}
		if (inside && sscanf(line, "KernelPageSize: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* Pass fds over a socket (SCM_RIGHTS), with a word of data. */
static inline int hpa_send_fd(int sock, int fd, uint64_t word)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &word, .iov_len = sizeof(word) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == sizeof(word) ? 0 : -errno;
}

static inline int hpa_recv_fd(int sock, uint64_t *word)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = word, .iov_len = sizeof(*word) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != sizeof(*word))
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static sigjmp_buf hpa_touch_jmp;

static inline void hpa_touch_jump(int sig)
{
	siglongjmp(hpa_touch_jmp, sig);
}

/*
 * The signal a read of addr raises in this very process, 0 if none.  Not
 * in a child as touch_signal() does: a stale TLB entry of ours would not
 * show in a child's fresh address space.
 */
static inline int hpa_touch_here(volatile char *addr)
{
	struct sigaction sa = { .sa_handler = hpa_touch_jump }, segv, bus;
	volatile int sig;

	sigaction(SIGSEGV, &sa, &segv);
	sigaction(SIGBUS, &sa, &bus);
	sig = sigsetjmp(hpa_touch_jmp, 1);
	if (!sig)
		(void)*addr;
	sigaction(SIGSEGV, &segv, NULL);
	sigaction(SIGBUS, &bus, NULL);
	return sig;
}

#endif /* HPA_UTIL_H */
