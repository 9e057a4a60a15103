/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the adversarial hpalloc selftests: thin ioctl wrappers that
 * return 0 or -errno, and snapshots of every pool's counters from sysfs, so
 * that a test can check that everything it did was given back.
 */
#ifndef HPA_TEST_POOL_H
#define HPA_TEST_POOL_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/hpalloc.h>

#define HPA_MAX_NODES	64
#define HPA_NR_PSIZES	2	/* 0: 2 MiB, 1: 1 GiB */

static const char *const hpa_psize_name[HPA_NR_PSIZES] = { "2M", "1G" };

static inline unsigned long hpa_psize_bytes(int ps)
{
	return ps ? HPALLOC_PAGE_SIZE_1G : HPALLOC_PAGE_SIZE_2M;
}

/* ---- ioctl wrappers: 0 or -errno ---------------------------------------- */

static inline int hpa_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static inline int hpa_version(int fd, struct hpalloc_version *v)
{
	memset(v, 0, sizeof(*v));
	return hpa_ioctl(fd, HPALLOC_IOC_VERSION, v);
}

static inline int dev_alloc_full(int fd, uint64_t size, uint32_t page_size,
				 uint32_t policy, uint64_t nodemask,
				 uint32_t flags, struct hpalloc_alloc *out)
{
	struct hpalloc_alloc a = {
		.size = size,
		.flags = flags,
		.page_size = page_size,
		.policy = policy,
		.nodemask = nodemask,
	};
	int ret = hpa_ioctl(fd, HPALLOC_IOC_ALLOC, &a);

	if (out)
		*out = a;
	return ret;
}

/* A buffer on the local node; its handle in *offset. */
static inline int dev_alloc(int fd, uint64_t size, uint32_t page_size,
			    uint64_t *offset)
{
	struct hpalloc_alloc a;
	int ret = dev_alloc_full(fd, size, page_size, HPALLOC_POLICY_LOCAL, 0,
				 0, &a);

	if (!ret && offset)
		*offset = a.offset;
	return ret;
}

static inline int dev_free(int fd, uint64_t offset)
{
	struct hpalloc_free f = { .offset = offset };

	return hpa_ioctl(fd, HPALLOC_IOC_FREE, &f);
}

static inline int hpa_query(int fd, uint64_t offset, uint32_t flags,
			    struct hpalloc_page_info *pages, uint32_t nr,
			    struct hpalloc_query *out)
{
	struct hpalloc_query q = {
		.offset = offset,
		.flags = flags,
		.pages_ptr = (uintptr_t)pages,
		.nr_entries = nr,
	};
	int ret = hpa_ioctl(fd, HPALLOC_IOC_QUERY, &q);

	if (out)
		*out = q;
	return ret;
}

/* Physical address of page idx of a buffer (needs CAP_SYS_RAWIO), 0 if not. */
static inline uint64_t hpa_buf_phys(int fd, uint64_t offset, uint32_t idx)
{
	struct hpalloc_page_info pi = { 0 };
	struct hpalloc_query q = {
		.offset = offset,
		.flags = HPALLOC_QUERY_PHYS,
		.first_page = idx,
		.pages_ptr = (uintptr_t)&pi,
		.nr_entries = 1,
	};

	if (ioctl(fd, HPALLOC_IOC_QUERY, &q) || q.nr_filled != 1)
		return 0;
	return pi.phys;
}

/* ---- pool counters from sysfs ------------------------------------------- */

/*
 * docs/device.md: /sys/kernel/hpalloc/nodeN/<2M|1G>/ per pool, one value per
 * file.  The counters a test compares: every page of a pool is free,
 * in use or zeroing, and the total moves only when someone resizes.
 */
#define HPA_SYSFS_ROOT	"/sys/kernel/hpalloc"

/* aa_initial_counters_test writes it, zz_final_counters_test reads it */
#define HPA_COUNTERS_FILE	"/tmp/hpalloc-initial-counters"

enum hpa_counter {
	HPA_C_TOTAL,
	HPA_C_FREE,
	HPA_C_IN_USE,
	HPA_C_ZEROING,
	HPA_C_TARGET,
	HPA_NR_COUNTERS
};

static const char *const hpa_counter_name[HPA_NR_COUNTERS] = {
	"total", "free", "in_use", "zeroing", "target",
};

struct hpa_pools {
	bool present[HPA_MAX_NODES][HPA_NR_PSIZES];
	long c[HPA_MAX_NODES][HPA_NR_PSIZES][HPA_NR_COUNTERS];
};

/*
 * The contents of a small file (sysfs, cgroup, /proc) as a string without
 * its last newline.  0 or -errno.
 */
static inline int hpa_read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

/* A file that holds one number; -1 if it cannot be read or is empty. */
static inline long hpa_read_long(const char *path)
{
	char buf[64];
	long v;

	if (hpa_read_str(path, buf, sizeof(buf)) ||
	    sscanf(buf, "%ld", &v) != 1)
		return -1;
	return v;
}

static inline int hpa_write_long(const char *path, long v)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int len, ret = 0;

	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%ld\n", v);
	if (write(fd, buf, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

static inline void hpa_pool_path(char *path, size_t len, int nid, int ps,
				 const char *file)
{
	snprintf(path, len, HPA_SYSFS_ROOT "/node%d/%s/%s", nid,
		 hpa_psize_name[ps], file);
}

static inline long hpa_pool_read(int nid, int ps, const char *file)
{
	char path[128];

	hpa_pool_path(path, sizeof(path), nid, ps, file);
	return hpa_read_long(path);
}

static inline int hpa_pool_write(int nid, int ps, const char *file, long v)
{
	char path[128];

	hpa_pool_path(path, sizeof(path), nid, ps, file);
	return hpa_write_long(path, v);
}

/* Number of pools found; 0 when the sysfs files are missing. */
static inline int hpa_pools_read(struct hpa_pools *p)
{
	int nid, ps, i, n = 0;

	memset(p, 0, sizeof(*p));
	for (nid = 0; nid < HPA_MAX_NODES; nid++) {
		for (ps = 0; ps < HPA_NR_PSIZES; ps++) {
			if (hpa_pool_read(nid, ps, "total") < 0)
				continue;
			p->present[nid][ps] = true;
			n++;
			for (i = 0; i < HPA_NR_COUNTERS; i++)
				p->c[nid][ps][i] =
					hpa_pool_read(nid, ps,
						      hpa_counter_name[i]);
		}
	}
	return n;
}

/* Writes the first difference into msg; true when equal. */
static inline bool hpa_pools_same(const struct hpa_pools *a,
				  const struct hpa_pools *b,
				  char *msg, size_t len)
{
	int nid, ps, i;

	for (nid = 0; nid < HPA_MAX_NODES; nid++)
		for (ps = 0; ps < HPA_NR_PSIZES; ps++) {
			if (a->present[nid][ps] != b->present[nid][ps]) {
				snprintf(msg, len, "node%d/%s appeared/vanished",
					 nid, hpa_psize_name[ps]);
				return false;
			}
			for (i = 0; i < HPA_NR_COUNTERS; i++)
				if (a->c[nid][ps][i] != b->c[nid][ps][i]) {
					snprintf(msg, len,
						 "node%d/%s/%s: %ld then %ld",
						 nid, hpa_psize_name[ps],
						 hpa_counter_name[i],
						 a->c[nid][ps][i],
						 b->c[nid][ps][i]);
					return false;
				}
		}
	return true;
}

static inline long hpa_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/*
 * Wait up to timeout_ms for the pools to come back to *start (freed pages
 * pass through a zeroing worker first, which is slow under emulation).
 * True when they did; else msg says what differs.
 */
static inline bool hpa_pools_settle(const struct hpa_pools *start,
				    long timeout_ms, char *msg, size_t len)
{
	long end = hpa_now_ms() + timeout_ms;
	struct hpa_pools now;

	for (;;) {
		hpa_pools_read(&now);
		if (hpa_pools_same(start, &now, msg, len))
			return true;
		if (hpa_now_ms() > end)
			return false;
		usleep(20000);
	}
}

/* Wait until no pool has pages waiting to be zeroed (before a snapshot). */
static inline void hpa_pools_quiesce(long timeout_ms)
{
	long end = hpa_now_ms() + timeout_ms;
	struct hpa_pools now;
	int nid, ps;
	bool busy;

	do {
		busy = false;
		hpa_pools_read(&now);
		for (nid = 0; nid < HPA_MAX_NODES; nid++)
			for (ps = 0; ps < HPA_NR_PSIZES; ps++)
				if (now.present[nid][ps] &&
				    now.c[nid][ps][HPA_C_ZEROING] > 0)
					busy = true;
		if (busy)
			usleep(20000);
	} while (busy && hpa_now_ms() < end);
}

/*
 * For a fixture: snapshot the pools once nothing is being zeroed, and
 * check at the end that they came back.  Needs `struct hpa_pools pools0;`
 * and `bool have_pools;` in the fixture.
 */
#define HPA_POOLS_SNAPSHOT(self) do {					\
	hpa_pools_quiesce(20000);					\
	(self)->have_pools = hpa_pools_read(&(self)->pools0) > 0;	\
} while (0)

/* Sum of one counter over every node's pool of a page size. */
static inline long hpa_pools_sum(const struct hpa_pools *p, int ps,
				 enum hpa_counter c)
{
	long sum = 0;
	int nid;

	for (nid = 0; nid < HPA_MAX_NODES; nid++)
		if (p->present[nid][ps])
			sum += p->c[nid][ps][c];
	return sum;
}

static inline long hpa_in_use_now(int ps)
{
	struct hpa_pools p;

	hpa_pools_read(&p);
	return hpa_pools_sum(&p, ps, HPA_C_IN_USE);
}

#define HPA_EXPECT_POOLS_BACK(self) do {				\
	char __msg[160] = "";						\
	if ((self)->have_pools) {					\
		EXPECT_TRUE(hpa_pools_settle(&(self)->pools0, 20000,	\
					     __msg, sizeof(__msg)))	\
			TH_LOG("pool counters not back: %s", __msg);	\
	}								\
} while (0)

/*
 * A 1 GiB page at run time is luck: any unmovable page in every aligned
 * GiB of a node rules it out.  A test that needs one uses the node whose
 * 1 GiB pool had pages reserved at load (pages_1g=NODE:COUNT, which also
 * sets the pool's min; scripts/vm-run.sh loads the module with it), and
 * skips with HPA_NO_1G_RESERVED when there is none.  -1: none.
 */
#define HPA_NO_1G_RESERVED \
	"no 1 GiB page reserved at load (insmod hpalloc.ko pages_1g=NODE:1)"

static inline int hpa_reserved_1g_node(void)
{
	int nid;

	for (nid = 0; nid < HPA_MAX_NODES; nid++)
		if (hpa_pool_read(nid, 1, "min") > 0 &&
		    hpa_pool_read(nid, 1, "total") > 0)
			return nid;
	return -1;
}

/* The local node's 2 MiB pool: where a LOCAL allocation on this CPU goes. */
static inline int hpa_cpu_node(void)
{
	unsigned int cpu, node;

	if (syscall(__NR_getcpu, &cpu, &node, NULL))
		return -1;
	return node;
}

/* The module's overcommit parameter (take pages beyond the pools). */
#define HPA_OVERCOMMIT_PARAM	"/sys/module/hpalloc/parameters/overcommit"

static inline int hpa_set_overcommit(bool on)
{
	return hpa_write_long(HPA_OVERCOMMIT_PARAM, on);
}

/* ---- the system's memory ----------------------------------------------- */

/* Sum of "<key> <value>" fields named key in a file, 0 if none. */
static inline long hpa_sum_field(const char *path, const char *key)
{
	char name[64];
	long v, sum = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s", name) == 1)
		if (!strcmp(name, key) && fscanf(f, "%ld", &v) == 1)
			sum += v;
	fclose(f);
	return sum;
}

/*
 * Free memory in kB: MemFree + Cached after dropping the page cache, + the
 * free pages on the per-CPU lists, which MemFree leaves out and which grow
 * by tens of MiB as the pools free 2 MiB pages.
 */
static inline long hpa_mem_kb(void)
{
	long free_kb, cached_kb, pcp;
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			return -1;
		close(fd);
	}
	free_kb = hpa_sum_field("/proc/meminfo", "MemFree:");
	cached_kb = hpa_sum_field("/proc/meminfo", "Cached:");
	pcp = hpa_sum_field("/proc/zoneinfo", "count:");
	if (free_kb <= 0 || cached_kb < 0 || pcp < 0)
		return -1;
	return free_kb + cached_kb + pcp * (sysconf(_SC_PAGESIZE) >> 10);
}

#endif /* HPA_TEST_POOL_H */
