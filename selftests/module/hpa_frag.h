/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fragmenting a node the way a server's memory fragments, for the 1 GiB
 * page tests and selftests/module/frag_bench.c: fill the node with page
 * cache (tmpfs files) and anonymous memory in 4 MiB chunks, alternating,
 * then free a random two thirds of the chunks.  And counting, from
 * /proc/kpageflags (root), how many of the node's
 * 1 GiB aligned ranges hold nothing but free and movable pages: the most
 * 1 GiB pages any allocator could get there without freeing memory.
 * (/proc/kpagecount counts mappings, not references: it cannot tell a free
 * page from one the kernel uses; see hpa_gib_movable() for what can.)
 */
#ifndef HPA_FRAG_H
#define HPA_FRAG_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mempolicy.h>

#include "hpa_util.h"

#define HPA_FRAG_CHUNK	(4UL << 20)
#define HPA_GIB		(1UL << 30)

struct hpa_frag {
	char dir[64];		/* a tmpfs of our own for the files */
	size_t nr;		/* chunks */
	void **anon;		/* chunk i's mapping, or NULL */
	bool *file;		/* chunk i is a file */
	bool *live;		/* chunk i is still there */
	bool mounted;
};

/* MemFree of a node in KiB, -1 if unknown. */
static inline long hpa_node_free_kb(int nid)
{
	char path[80], line[128];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo",
		 nid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Node %*d MemFree: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* MPOL_BIND of [addr, addr + len) to node nid. */
static inline int hpa_mbind_node(void *addr, size_t len, int nid)
{
	unsigned long mask[1024 / (8 * sizeof(unsigned long))] = { 0 };

	mask[nid / (8 * sizeof(long))] |= 1UL << (nid % (8 * sizeof(long)));
	return syscall(SYS_mbind, addr, len, MPOL_BIND, mask, 1024UL, 0U);
}

/* A small deterministic generator: the same seed frees the same chunks. */
static inline uint32_t hpa_frag_rand(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return *state >> 33;
}

static inline void hpa_frag_drop(struct hpa_frag *f, size_t i)
{
	char path[96];

	if (!f->live[i])
		return;
	if (f->file[i]) {
		snprintf(path, sizeof(path), "%s/c%zu", f->dir, i);
		unlink(path);
	} else {
		munmap(f->anon[i], HPA_FRAG_CHUNK);
	}
	f->live[i] = false;
}

/* Give back everything the fragmentation holds. */
static inline void hpa_frag_release(struct hpa_frag *f)
{
	size_t i;

	for (i = 0; f->live && i < f->nr; i++)
		hpa_frag_drop(f, i);
	if (f->mounted)
		umount(f->dir);
	rmdir(f->dir);
	free(f->anon);
	free(f->file);
	free(f->live);
	memset(f, 0, sizeof(*f));
}

/*
 * Fill bytes of node nid with movable memory: anonymous chunks bound there
 * with mbind(), files of a tmpfs mounted with mpol=bind:nid.  The page
 * tables and slab the filling needs follow the task's policy, not these,
 * and stay on the local node.  Then free a random two thirds of the
 * chunks.  0 or -errno.
 */
static inline int hpa_frag_fill(struct hpa_frag *f, int nid, size_t bytes,
				uint64_t seed)
{
	static char pattern[HPA_FRAG_CHUNK];
	size_t i, *order;
	char opts[64];
	int ret = 0;

	memset(f, 0, sizeof(*f));
	f->nr = bytes / HPA_FRAG_CHUNK;
	f->anon = calloc(f->nr, sizeof(*f->anon));
	f->file = calloc(f->nr, sizeof(*f->file));
	f->live = calloc(f->nr, sizeof(*f->live));
	order = calloc(f->nr, sizeof(*order));
	if (!f->anon || !f->file || !f->live || !order) {
		free(order);
		hpa_frag_release(f);
		return -ENOMEM;
	}
	snprintf(f->dir, sizeof(f->dir), "/tmp/hpa-frag.%d", getpid());
	if (mkdir(f->dir, 0700) && errno != EEXIST)
		ret = -errno;
	snprintf(opts, sizeof(opts), "size=%zuk,mpol=bind:%d",
		 bytes / 1024 + 65536, nid);
	if (!ret && mount("tmpfs", f->dir, "tmpfs", 0, opts))
		ret = -errno;
	f->mounted = !ret;
	memset(pattern, 0x5a, sizeof(pattern));
	for (i = 0; !ret && i < f->nr; i++) {
		char path[96];
		int fd;

		f->file[i] = i % 2;
		if (!f->file[i]) {
			f->anon[i] = mmap(NULL, HPA_FRAG_CHUNK,
					  PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (f->anon[i] == MAP_FAILED ||
			    hpa_mbind_node(f->anon[i], HPA_FRAG_CHUNK, nid)) {
				ret = -errno;
				if (f->anon[i] != MAP_FAILED)
					munmap(f->anon[i], HPA_FRAG_CHUNK);
				break;
			}
			memset(f->anon[i], 0xa5, HPA_FRAG_CHUNK);
			f->live[i] = true;
			continue;
		}
		snprintf(path, sizeof(path), "%s/c%zu", f->dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0) {
			ret = -errno;
			break;
		}
		if (write(fd, pattern, HPA_FRAG_CHUNK) != (ssize_t)HPA_FRAG_CHUNK)
			ret = errno ? -errno : -ENOSPC;
		close(fd);
		f->live[i] = !ret;
	}
	if (ret) {
		free(order);
		hpa_frag_release(f);
		return ret;
	}
	for (i = 0; i < f->nr; i++)
		order[i] = i;
	for (i = f->nr; i > 1; i--) {
		size_t j = hpa_frag_rand(&seed) % i, t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	for (i = 0; i < f->nr * 2 / 3; i++)
		hpa_frag_drop(f, order[i]);
	free(order);
	return 0;
}


/* Does every memory block of [gib, gib + 1 GiB) belong to node nid? */
static inline bool hpa_gib_in_node(int nid, uint64_t gib, uint64_t bsz)
{
	uint64_t b;
	char path[96];

	for (b = gib * HPA_GIB / bsz; b < (gib + 1) * HPA_GIB / bsz; b++) {
		snprintf(path, sizeof(path),
			 "/sys/devices/system/node/node%d/memory%llu", nid,
			 (unsigned long long)b);
		if (access(path, F_OK))
			return false;
	}
	return true;
}

#define HPA_KPF_LRU		5
#define HPA_KPF_SLAB		7
#define HPA_KPF_BUDDY		10
#define HPA_KPF_COMPOUND_TAIL	16
#define HPA_KPF_HWPOISON	19
#define HPA_KPF_NOPAGE		20
#define HPA_KPF_OFFLINE		23
#define HPA_KPF_PGTABLE		26
#define HPA_KPF_RESERVED	32

/*
 * Is every page of the GiB at index gib free or movable?  kpageflags marks
 * the first page of a free block (BUDDY) but neither the rest of it nor a
 * free page in a per-CPU list: those show no flags at all.  So a page
 * without flags counts as free; a page the kernel took without any flag
 * (vmalloc, a kernel stack) would too, which makes the count of movable
 * GiBs higher than the truth.  It can be lower too: a movable page that is
 * off the LRU for a moment (in a per-CPU batch before it gets there, or
 * isolated by reclaim or migration) has flags but not LRU and counts as
 * unmovable.  Movable: on an LRU list (page cache, anonymous memory), or
 * a compound tail of such a head.  -1 if kpageflags cannot be read.
 */
static inline int hpa_gib_movable(int kflags, uint64_t gib)
{
	enum { N = 4096 };
	const uint64_t never = 1ULL << HPA_KPF_SLAB | 1ULL << HPA_KPF_HWPOISON |
			       1ULL << HPA_KPF_NOPAGE | 1ULL << HPA_KPF_OFFLINE |
			       1ULL << HPA_KPF_PGTABLE |
			       1ULL << HPA_KPF_RESERVED;
	uint64_t flags[N];
	uint64_t pfn = gib * HPA_GIB / 4096, end = pfn + HPA_GIB / 4096;
	bool head_ok = false;

	for (; pfn < end; pfn += N) {
		int i;

		if (pread(kflags, flags, sizeof(flags), pfn * sizeof(uint64_t)) !=
		    sizeof(flags))
			return -1;
		for (i = 0; i < N; i++) {
			uint64_t k = flags[i];
			bool ok;

			if (k & never)
				return 0;
			if (k & (1ULL << HPA_KPF_COMPOUND_TAIL))
				ok = head_ok;
			else
				ok = !k || (k & (1ULL << HPA_KPF_BUDDY)) ||
				     (k & (1ULL << HPA_KPF_LRU));
			if (!ok)
				return 0;
			if (!(k & (1ULL << HPA_KPF_COMPOUND_TAIL)))
				head_ok = ok;
		}
	}
	return 1;
}

/*
 * Put the pages on every CPU's batches on their way to an LRU list there,
 * so that kpageflags shows them as LRU: migrate_pages() from node nid to
 * itself moves nothing, but drains the batches first (lru_cache_disable()
 * in do_migrate_pages(), 5.13 and later).  Root, or CAP_SYS_NICE.
 */
static inline int hpa_lru_drain(int nid)
{
	unsigned long mask[16] = { 0 };
	const unsigned int bits = 8 * sizeof(mask[0]);

	if (nid < 0 || nid >= (int)(bits * 16))
		return -1;
	mask[nid / bits] = 1UL << (nid % bits);
	return syscall(SYS_migrate_pages, 0, bits * 16, mask, mask) < 0 ? -1 : 0;
}

/*
 * The 1 GiB aligned ranges of node nid that hold only free and movable
 * pages; *node_gibs: how many aligned GiBs the node has.  -1 on error.
 */
static inline long hpa_frag_movable_gibs(int nid, long *node_gibs)
{
	uint64_t bsz = hpa_memory_block_size(), gib;
	long n = 0, all = 0;
	int kflags;

	if (!bsz || bsz > HPA_GIB)
		return -1;
	kflags = open("/proc/kpageflags", O_RDONLY);
	if (kflags < 0)
		return -1;
	for (gib = 0; gib < 1024; gib++) {
		int ok;

		if (!hpa_gib_in_node(nid, gib, bsz))
			continue;
		all++;
		ok = hpa_gib_movable(kflags, gib);
		if (ok < 0) {
			n = -1;
			break;
		}
		n += ok;
	}
	close(kflags);
	if (node_gibs)
		*node_gibs = all;
	return n;
}

#endif /* HPA_FRAG_H */
