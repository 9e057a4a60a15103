// SPDX-License-Identifier: MIT
/*
 * The host backends of the primitive layer, and the mappings that every
 * backend needs (the reservation, metadata, PROT_NONE, dma-buf files):
 *
 *   hugetlb  MAP_HUGETLB | MAP_HUGE_2MB (MAP_HUGE_1GB for 1 GiB runs).
 *   thp      private anonymous memory + madvise(MADV_HUGEPAGE).
 *   4k       private anonymous memory + madvise(MADV_NOHUGEPAGE).
 *
 * With prim-device.c (the device backend) the only code in the library
 * that opens files, issues ioctls or maps memory.  Which backend serves a
 * commit, and the fallback to the next one down, is os.c's (prim-host.h is
 * the interface).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mempolicy.h>
#include <linux/mman.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "prim-host.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

static bool hugetlb_1g;
static uint64_t online_nodes = 1;

static ssize_t read_small_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return n;
}

static long read_long_file(const char *path)
{
	char buf[64];

	if (read_small_file(path, buf, sizeof(buf)) < 0)
		return -1;
	return strtol(buf, NULL, 10);
}

/* "0-2,4" -> bits 0,1,2,4 */
static uint64_t parse_node_list(const char *s)
{
	uint64_t mask = 0;

	while (*s && *s != '\n') {
		char *end;
		long a = strtol(s, &end, 10), b;

		if (end == s)
			break;
		b = a;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
		}
		for (; a <= b && a < 64; a++)
			mask |= 1ULL << a;
		s = end;
		if (*s == ',')
			s++;
	}
	return mask ? mask : 1;
}

/*
 * Address space that RLIMIT_AS still leaves this process, SIZE_MAX without
 * a limit.  Counted from /proc/self/statm's total size, which is what the
 * kernel compares with the limit (VmSize).
 */
static size_t as_room(void)
{
	struct rlimit rl;
	char buf[128];
	unsigned long pages;
	size_t used;

	if (getrlimit(RLIMIT_AS, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return SIZE_MAX;
	if (read_small_file("/proc/self/statm", buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%lu", &pages) != 1)
		pages = 0;
	used = (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
	return rl.rlim_cur > used ? (size_t)(rl.rlim_cur - used) : 0;
}

void *hpa_host_reserve(size_t *size, size_t min, size_t align)
{
	size_t room = as_room();

	/*
	 * Under RLIMIT_AS take at most half of what is left: the program
	 * needs the rest for its own mappings (libraries, thread stacks).
	 */
	if (room != SIZE_MAX && *size > room / 2) {
		*size = (room / 2) & ~HPA_CHUNK_MASK;
		if (*size < min)
			*size = min;
	}
	for (;;) {
		/* A small reservation cannot hold 1 GiB pages anyway. */
		size_t al = *size >= 2 * align ? align : HPA_CHUNK_SIZE;
		size_t len = *size + al;
		char *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE |
			       MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		uintptr_t start;

		if (p != MAP_FAILED) {
			start = hpa_align_up((uintptr_t)p, al);
			if (start > (uintptr_t)p)
				munmap(p, start - (uintptr_t)p);
			if ((uintptr_t)p + len > start + *size)
				munmap((void *)(start + *size),
				       (uintptr_t)p + len - (start + *size));
			return (void *)start;
		}
		if (*size / 2 < min)
			return NULL;
		*size = (*size / 2) & ~HPA_CHUNK_MASK;
	}
}

void *hpa_host_meta_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		       MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int hpa_host_prot_none(void *addr, size_t len)
{
	void *p = mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		       MAP_FIXED | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? -errno : 0;
}

static int bind_node(void *addr, size_t len, int node)
{
	unsigned long mask[HPA_MAX_NODES / 64] = { 0 };

	if (node < 0)
		return 0;
	mask[node / 64] = 1UL << (node % 64);
	if (syscall(SYS_mbind, addr, len, MPOL_BIND, mask,
		    (unsigned long)HPA_MAX_NODES + 1, 0) != 0)
		return -errno;
	return 0;
}

int hpa_host_commit(enum hpa_backend be, void *addr, size_t len,
		    int node, bool use_1g, unsigned int *shift)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
	void *p;
	int err;

	switch (be) {
	case HPA_BACKEND_HUGETLB:
		*shift = use_1g ? 30 : 21;
		flags |= MAP_HUGETLB | (use_1g ? MAP_HUGE_1GB : MAP_HUGE_2MB);
		break;
	case HPA_BACKEND_THP:
		*shift = 21;
		break;
	default:
		*shift = 12;
		break;
	}
	p = mmap(addr, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		hpa_host_prot_none(addr, len);
		return err;
	}
	if (be == HPA_BACKEND_THP)
		madvise(addr, len, MADV_HUGEPAGE);
	else if (be == HPA_BACKEND_4K)
		madvise(addr, len, MADV_NOHUGEPAGE);
	err = bind_node(addr, len, node);
	if (err) {
		hpa_host_prot_none(addr, len);
		return err;
	}
	return 0;
}

int hpa_host_move(void *from, void *to, size_t len)
{
	void *p = mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED |
			 MREMAP_DONTUNMAP, to);

	if (p != MAP_FAILED)
		return hpa_host_prot_none(from, len);
	/*
	 * Older kernels take MREMAP_DONTUNMAP for private anonymous memory
	 * only.  Without it the old range is a hole until hpa_host_prot_none()
	 * fills it again: an mmap(NULL) in another thread in that instant
	 * could land there and would then be overwritten.  Rather copy.
	 */
	return -errno;
}

/* Physical address of p from /proc/self/pagemap (not of PFN mappings). */
int hpa_host_virt2phys(const void *p, uint64_t *phys)
{
	uint64_t ent;
	long psz = sysconf(_SC_PAGESIZE);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, &ent, sizeof(ent),
		  (off_t)((uintptr_t)p / (uintptr_t)psz * sizeof(ent)));
	close(fd);
	if (n != sizeof(ent))
		return n < 0 ? -errno : -EFAULT;
	if (!(ent & (1ULL << 63)))
		return -ENOENT;
	if (!(ent & ((1ULL << 55) - 1)))
		return -EPERM;	/* PFNs are hidden without CAP_SYS_ADMIN */
	*phys = (ent & ((1ULL << 55) - 1)) * (uint64_t)psz +
		(uintptr_t)p % (uintptr_t)psz;
	return 0;
}

/*
 * The dma-buf file has no aligning get_unmapped_area: reserve len + align
 * of nothing, map at the aligned address inside, give back the rest.
 */
int hpa_host_map_fd(int fd, void *addr, size_t len, size_t align,
		    void **out)
{
	int fl = fcntl(fd, F_GETFL);
	int prot = PROT_READ;
	char *r, *a, *p;
	int err;

	if (fl < 0)
		return -errno;
	if ((fl & O_ACCMODE) == O_RDWR)
		prot |= PROT_WRITE;
	if (addr) {
		p = mmap(addr, len, prot, MAP_SHARED | MAP_FIXED_NOREPLACE,
			 fd, 0);
		if (p == MAP_FAILED)
			return -errno;
		if (p != addr) {	/* a kernel without FIXED_NOREPLACE */
			munmap(p, len);
			return -EEXIST;
		}
		*out = p;
		return 0;
	}
	r = mmap(NULL, len + align, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return -errno;
	a = (char *)hpa_align_up((uintptr_t)r, align);
	p = mmap(a, len, prot, MAP_SHARED | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		munmap(r, len + align);
		return err;
	}
	if (a > r)
		munmap(r, (size_t)(a - r));
	if (r + len + align > a + len)
		munmap(a + len, (size_t)(r + len + align - (a + len)));
	*out = p;
	return 0;
}

long hpa_host_fd_size(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);

	return end < 0 ? -errno : (long)end;
}

int hpa_host_unmap_fd(void *addr, size_t len)
{
	return munmap(addr, len) ? -errno : 0;
}

int hpa_host_current_node(void)
{
	unsigned int cpu, node;

	/* glibc's getcpu() reads the vDSO: no system call per big block. */
	if (getcpu(&cpu, &node) != 0)
		return 0;
	return (int)node;
}

bool hpa_host_node_online(int node)
{
	return node >= 0 && node < 64 && (online_nodes >> node) & 1;
}

void hpa_host_init(void)
{
	char buf[256];

	if (read_small_file("/sys/devices/system/node/online", buf,
			    sizeof(buf)) > 0)
		online_nodes = parse_node_list(buf);
}

bool hpa_host_hugetlb_1g(void)
{
	return hugetlb_1g;
}

static bool probe_hugetlb_size(int flag, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		       MAP_ANONYMOUS | MAP_HUGETLB | flag, -1, 0);

	if (p == MAP_FAILED)
		return false;
	munmap(p, size);
	return true;
}

bool hpa_host_probe_hugetlb(void)
{
	long free2m = read_long_file(
		"/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");

	if (!probe_hugetlb_size(MAP_HUGE_2MB, HPA_CHUNK_SIZE)) {
		hpa_debug("hugetlb: no 2 MiB page can be reserved "
			  "(free_hugepages=%ld; see vm.nr_hugepages)\n", free2m);
		return false;
	}
	hugetlb_1g = probe_hugetlb_size(MAP_HUGE_1GB, HPA_GiB);
	hpa_debug("hugetlb: %ld free 2 MiB pages, 1 GiB pages %s\n", free2m,
		  hugetlb_1g ? "available" : "not available");
	return true;
}

bool hpa_host_probe_thp(void)
{
	char buf[128];

	if (read_small_file("/sys/kernel/mm/transparent_hugepage/enabled",
			    buf, sizeof(buf)) < 0) {
		hpa_debug("thp: no /sys/kernel/mm/transparent_hugepage\n");
		return false;
	}
	if (strstr(buf, "[never]")) {
		hpa_debug("thp: disabled (enabled=[never])\n");
		return false;
	}
	return true;
}

/* ---- what backs the heap (HPALLOC_STATS) ------------------------------- */

/* One smaps line: a mapping's header or a "Field:   N kB" line. */
static void smaps_line(const char *line, uintptr_t lo, uintptr_t hi,
		       bool *inside, struct hpa_backed *out)
{
	unsigned long start, end, kb;
	char field[32];

	if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
	    strchr(line, '-') < strchr(line, ' ')) {
		*inside = start < hi && end > lo;
		return;
	}
	if (!*inside || sscanf(line, "%31[^:]: %lu kB", field, &kb) != 2)
		return;
	if (!strcmp(field, "Rss"))
		out->rss += (uint64_t)kb << 10;
	else if (!strcmp(field, "AnonHugePages"))
		out->anon_huge += (uint64_t)kb << 10;
	else if (!strcmp(field, "Private_Hugetlb") ||
		 !strcmp(field, "Shared_Hugetlb"))
		out->hugetlb += (uint64_t)kb << 10;
}

/* Read with a fixed buffer: this runs at exit, and must not allocate. */
int hpa_prim_backed(const void *start, size_t len, struct hpa_backed *out)
{
	uintptr_t lo = (uintptr_t)start, hi = lo + len;
	int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
	char buf[4096];
	size_t have = 0;
	bool inside = false;
	ssize_t n;

	memset(out, 0, sizeof(*out));
	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0) {
		char *line = buf, *nl;

		have += (size_t)n;
		buf[have] = 0;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			smaps_line(line, lo, hi, &inside, out);
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1)
			have = 0;	/* no line is that long; drop it */
	}
	close(fd);
	return n < 0 ? -errno : 0;
}

/* ---- fork (fork.c) ---------------------------------------------------- */

/* The device handles of the range are forgotten, never freed. */
int hpa_host_privatize(void *addr, size_t len, int node, bool copy,
		       enum hpa_backend be, struct hpa_commit *out)
{
	size_t rlen = len + HPA_CHUNK_SIZE;
	char *raw, *tmp;
	int err = 0;

	if (!copy) {
		/* Free pool chunks: fresh zero memory will do. */
		tmp = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
			   MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (tmp == MAP_FAILED)
			return -errno;
		goto done;
	}
	/* A 2 MiB aligned copy, so that mremap moves whole huge PMDs. */
	raw = mmap(NULL, rlen, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		   MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return -errno;
	tmp = (char *)hpa_align_up((uintptr_t)raw, HPA_CHUNK_SIZE);
	if (tmp > raw)
		munmap(raw, (size_t)(tmp - raw));
	munmap(tmp + len, (size_t)(raw + rlen - (tmp + len)));
	madvise(tmp, len, be == HPA_BACKEND_THP ? MADV_HUGEPAGE :
		MADV_NOHUGEPAGE);
	bind_node(tmp, len, node);
	memcpy(tmp, addr, len);
	if (mremap(tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, addr) ==
	    MAP_FAILED) {
		err = -errno;
		munmap(tmp, len);
		return err;
	}
done:
	if (!copy) {
		madvise(addr, len, be == HPA_BACKEND_THP ? MADV_HUGEPAGE :
			MADV_NOHUGEPAGE);
		bind_node(addr, len, node);
	}
	out->backend = (uint8_t)be;
	out->page_shift = be == HPA_BACKEND_THP ? 21 : 12;
	out->fallback = false;
	return 0;
}
