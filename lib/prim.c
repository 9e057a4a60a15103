// SPDX-License-Identifier: MIT
/*
 * The primitive layer: the only code in the library that opens files,
 * issues ioctls or maps memory.  Four backends, best first:
 *
 *   device   /dev/hpalloc: prim-device.c (its chunk table, handles, map,
 *            move, physical addresses, the DMA buffers' ioctls), called
 *            through prim-device.h.
 *   hugetlb  MAP_HUGETLB | MAP_HUGE_2MB (MAP_HUGE_1GB for 1 GiB runs).
 *   thp      private anonymous memory + madvise(MADV_HUGEPAGE).
 *   4k       private anonymous memory + madvise(MADV_NOHUGEPAGE).
 *
 * A commit that the chosen backend cannot serve (hugetlb pool exhausted,
 * device out of pages) is served by the next backend down and counted as a
 * fallback: running out of huge pages degrades, it never fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mempolicy.h>
#include <linux/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "prim-device.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

static bool be_usable[HPA_BACKEND_MAX];
static enum hpa_backend be_best = HPA_BACKEND_4K;
static bool hugetlb_1g;
static _Atomic bool be_fail_told[HPA_BACKEND_MAX];
static uint64_t online_nodes = 1;

static const char *const be_names[HPA_BACKEND_MAX] = {
	[HPA_BACKEND_DEVICE] = "device",
	[HPA_BACKEND_HUGETLB] = "hugetlb",
	[HPA_BACKEND_THP] = "thp",
	[HPA_BACKEND_4K] = "4k",
};

HPA_EXPORT const char *hpa_backend_name(unsigned int backend)
{
	return backend < HPA_BACKEND_MAX ? be_names[backend] : NULL;
}

int hpa_backend_by_name(const char *name)
{
	int be;

	for (be = 0; be < HPA_BACKEND_MAX; be++)
		if (!strcmp(name, be_names[be]))
			return be;
	return -EINVAL;
}

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

static void *os_reserve(size_t *size, size_t min, size_t align)
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
			hpa_dev_reserved((char *)start, *size);
			return (void *)start;
		}
		if (*size / 2 < min)
			return NULL;
		*size = (*size / 2) & ~HPA_CHUNK_MASK;
	}
}

void *hpa_os_meta_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		       MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int hpa_os_prot_none(void *addr, size_t len)
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

static int backend_commit(enum hpa_backend be, void *addr, size_t len,
			  int node, bool use_1g, unsigned int *shift)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
	void *p;
	int err;

	switch (be) {
	case HPA_BACKEND_DEVICE:
		*shift = use_1g ? 30 : 21;
		return hpa_dev_commit(addr, len, node, use_1g);
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
		hpa_os_prot_none(addr, len);
		return err;
	}
	if (be == HPA_BACKEND_THP)
		madvise(addr, len, MADV_HUGEPAGE);
	else if (be == HPA_BACKEND_4K)
		madvise(addr, len, MADV_NOHUGEPAGE);
	err = bind_node(addr, len, node);
	if (err) {
		hpa_os_prot_none(addr, len);
		return err;
	}
	return 0;
}

static bool os_has_1g(void)
{
	if (be_best == HPA_BACKEND_DEVICE)
		return hpa_dev_has_1g();
	return be_best == HPA_BACKEND_HUGETLB && hugetlb_1g;
}

static int os_commit(void *addr, size_t len, int node, unsigned int flags,
		     struct hpa_commit *out)
{
	bool aligned_1g = !((uintptr_t)addr & (HPA_GiB - 1)) &&
			  !(len & (HPA_GiB - 1));
	bool allow_1g = flags & HPA_COMMIT_1G;
	int be, err = -ENOMEM;

	out->fallback = false;
	be = flags & HPA_COMMIT_SMALL ? HPA_BACKEND_4K : be_best;
	for (; be < HPA_BACKEND_MAX; be++) {
		unsigned int shift;
		bool use_1g = allow_1g && aligned_1g && be == (int)be_best &&
			      os_has_1g();

		if (!be_usable[be])
			continue;
		err = backend_commit(be, addr, len, node, use_1g, &shift);
		if (err && use_1g)
			err = backend_commit(be, addr, len, node, false, &shift);
		if (!err) {
			out->backend = (uint8_t)be;
			out->page_shift = (uint8_t)shift;
			return 0;
		}
		if (!atomic_exchange(&be_fail_told[be], true))
			hpa_debug("%s: a map of %zu MiB failed (%s): it and "
				  "later ones fall back to the next backend, "
				  "counted in hpa_stats.fallbacks\n",
				  be_names[be], len >> 20,
				  strerrordesc_np(-err));
		hpa_stat_add(&hpa_gstats.be_fail[be], 1);
		out->fallback = true;
		/* A node the kernel refuses is the caller's error everywhere. */
		if (err == -EINVAL)
			return err;
	}
	return err;
}

static int os_decommit(void *addr, size_t len)
{
	int err = hpa_os_prot_none(addr, len);

	if (!err)
		hpa_dev_forget(addr, len);
	return err;
}

static int os_move(void *from, void *to, size_t len)
{
	int err = hpa_dev_move(from, to, len);
	void *p;

	if (err <= 0)
		return err;	/* device memory, moved or not */
	p = mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED |
		   MREMAP_DONTUNMAP, to);
	if (p != MAP_FAILED)
		return hpa_os_prot_none(from, len);
	/*
	 * Older kernels take MREMAP_DONTUNMAP for private anonymous memory
	 * only.  Without it the old range is a hole until hpa_os_prot_none()
	 * fills it again: an mmap(NULL) in another thread in that instant
	 * could land there and would then be overwritten.  Rather copy.
	 */
	return -errno;
}

static int os_dma_commit(void *addr, size_t len, int node, bool page_1g,
			 uint64_t *handle)
{
	if (be_best != HPA_BACKEND_DEVICE)
		return -ENODEV;
	return hpa_dev_dma_commit(addr, len, node, page_1g, handle);
}

static int pagemap_phys(const void *p, uint64_t *phys)
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

static int os_virt2phys(const void *p, uint64_t handle, void *map_start,
			uint64_t *phys)
{
	int err = hpa_dev_virt2phys(p, handle, map_start, phys);

	/* Device memory: pagemap cannot see PFN mappings; the device said. */
	return err <= 0 ? err : pagemap_phys(p, phys);
}

/*
 * The dma-buf file has no aligning get_unmapped_area: reserve len + align
 * of nothing, map at the aligned address inside, give back the rest.
 */
static void *os_map_fd(int fd, void *addr, size_t len, size_t align)
{
	int fl = fcntl(fd, F_GETFL);
	int prot = PROT_READ;
	char *r, *a, *p;
	int err;

	if (fl < 0)
		return NULL;
	if ((fl & O_ACCMODE) == O_RDWR)
		prot |= PROT_WRITE;
	if (addr) {
		p = mmap(addr, len, prot, MAP_SHARED | MAP_FIXED_NOREPLACE,
			 fd, 0);
		if (p == MAP_FAILED)
			return NULL;
		if (p != addr) {	/* a kernel without FIXED_NOREPLACE */
			munmap(p, len);
			errno = EEXIST;
			return NULL;
		}
		return p;
	}
	r = mmap(NULL, len + align, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	a = (char *)hpa_align_up((uintptr_t)r, align);
	p = mmap(a, len, prot, MAP_SHARED | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) {
		err = errno;
		munmap(r, len + align);
		errno = err;
		return NULL;
	}
	if (a > r)
		munmap(r, (size_t)(a - r));
	if (r + len + align > a + len)
		munmap(a + len, (size_t)(r + len + align - (a + len)));
	return p;
}

static long os_fd_size(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);

	return end < 0 ? -errno : (long)end;
}

static int os_unmap_fd(void *addr, size_t len)
{
	return munmap(addr, len) ? -errno : 0;
}

static int os_current_node(void)
{
	unsigned int cpu, node;

	if (syscall(SYS_getcpu, &cpu, &node, NULL) != 0)
		return 0;
	return (int)node;
}

static bool os_node_online(int node)
{
	return node >= 0 && node < 64 && (online_nodes >> node) & 1;
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

static bool probe_hugetlb(void)
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

static bool probe_thp(void)
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

/* The first usable backend in order of preference (4K always is). */
static enum hpa_backend pick_best(void)
{
	int be;

	for (be = 0; be < HPA_BACKEND_MAX; be++)
		if (be_usable[be])
			break;
	return (enum hpa_backend)be;
}

static enum hpa_backend os_init(const char *forced)
{
	char buf[256];
	int start = HPA_BACKEND_DEVICE;

	if (read_small_file("/sys/devices/system/node/online", buf,
			    sizeof(buf)) > 0)
		online_nodes = parse_node_list(buf);
	if (forced && hpa_backend_by_name(forced) >= 0)
		start = hpa_backend_by_name(forced);
	be_usable[HPA_BACKEND_DEVICE] = start <= HPA_BACKEND_DEVICE &&
					hpa_dev_probe();
	/*
	 * hugetlb pages are what an administrator set aside (vm.nr_hugepages)
	 * for some program: DPDK, a database.  Taking them unasked would
	 * starve it, and they do not show in RSS.  Only when asked.
	 */
	be_usable[HPA_BACKEND_HUGETLB] = start == HPA_BACKEND_HUGETLB &&
					 probe_hugetlb();
	if (start != HPA_BACKEND_HUGETLB && start < HPA_BACKEND_THP)
		hpa_debug("hugetlb: not used unless asked "
			  "(HPALLOC_BACKEND=hugetlb): the pool is reserved "
			  "for whoever the administrator set it aside for\n");
	be_usable[HPA_BACKEND_THP] = start <= HPA_BACKEND_THP && probe_thp();
	be_usable[HPA_BACKEND_4K] = true;
	be_best = pick_best();
	if (forced && strcmp(forced, "auto") && (int)be_best != start)
		hpa_log("HPALLOC_BACKEND=%s is not available here; using %s "
			"(HPALLOC_DEBUG=1 says why)\n", forced,
			be_names[be_best]);
	hpa_debug("backend %s chosen%s\n", be_names[be_best],
		  start > HPA_BACKEND_DEVICE ? " (forced)" : "");
	return be_best;
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
static int os_privatize(void *addr, size_t len, int node, bool copy,
			struct hpa_commit *out)
{
	enum hpa_backend be = be_usable[HPA_BACKEND_THP] ? HPA_BACKEND_THP :
			      HPA_BACKEND_4K;
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
	hpa_dev_drop(addr, len);
	out->backend = (uint8_t)be;
	out->page_shift = be == HPA_BACKEND_THP ? 21 : 12;
	out->fallback = false;
	return 0;
}

/* DMA buffers stay the parent's (prim-device.c); new memory is private. */
static enum hpa_backend os_fork_child(void)
{
	hpa_dev_fork_child();
	be_usable[HPA_BACKEND_DEVICE] = false;
	be_best = pick_best();
	return be_best;
}

const struct hpa_prim_ops hpa_prim_os = {
	.name = "os",
	.reserve = os_reserve,
	.meta_map = hpa_os_meta_map,
	.commit = os_commit,
	.decommit = os_decommit,
	.move = os_move,
	.dma_commit = os_dma_commit,
	.dma_release = hpa_dev_dma_release,
	.virt2phys = os_virt2phys,
	.dma_query = hpa_dev_dma_query,
	.dma_export = hpa_dev_dma_export,
	.map_fd = os_map_fd,
	.unmap_fd = os_unmap_fd,
	.fd_size = os_fd_size,
	.current_node = os_current_node,
	.node_online = os_node_online,
	.init = os_init,
	.has_1g = os_has_1g,
	.shared_heap_chunks = hpa_dev_heap_chunks,
	.heap_shared = hpa_dev_heap_shared,
	.privatize = os_privatize,
	.fork_child = os_fork_child,
};

const struct hpa_prim_ops *hpa_prim = &hpa_prim_os;

void hpa_prim_set(const struct hpa_prim_ops *ops)
{
	hpa_prim = ops;
}
