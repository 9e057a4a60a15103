// SPDX-License-Identifier: GPL-2.0
/*
 * A fake primitive layer for unit tests.  The reservation is real address
 * space; "committing" makes a chunk range read-write and "decommitting"
 * drops its contents and makes it PROT_NONE again, so an allocator bug that
 * touches memory it gave back faults.  Every call is counted and checked
 * (committing a committed chunk is an error the tests look at), and
 * failures can be injected.
 */
#include <errno.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>

#include "fake_prim.h"

struct fake_prim_state fake = {
	.backend = HPA_BACKEND_THP,
	.move_ok = true,
	.node = 0,
	.online = 3,		/* two nodes: 0 and 1 */
	.last_node = -2,
	.reserve_cap = 64UL << 30,
};

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static char *fbase;
static size_t fsize;
static uint8_t *fcommitted;	/* byte per chunk */
static uint8_t *fshared;	/* byte per chunk: "device" heap memory */
static long nshared;

static size_t fidx(const void *p)
{
	return ((uintptr_t)p - (uintptr_t)fbase) >> HPA_CHUNK_SHIFT;
}

bool fake_committed(const void *addr)
{
	return fcommitted[fidx(addr)];
}

long fake_shared_chunks(void)
{
	return nshared;
}

static void *f_reserve(size_t *size, size_t min, size_t align)
{
	size_t len;
	char *p;
	uintptr_t s;

	(void)min;
	if (*size > fake.reserve_cap)
		*size = fake.reserve_cap;
	len = *size + align;
	p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	s = hpa_align_up((uintptr_t)p, align);
	fbase = (char *)s;
	fsize = *size;
	fcommitted = mmap(NULL, fsize >> HPA_CHUNK_SHIFT, PROT_READ |
			  PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fshared = mmap(NULL, fsize >> HPA_CHUNK_SHIFT, PROT_READ |
		       PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return fbase;
}

static void *f_meta_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		       MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static bool check_range(void *addr, size_t len, bool want_committed)
{
	size_t i;

	if ((char *)addr < fbase || (char *)addr + len > fbase + fsize ||
	    (uintptr_t)addr & HPA_CHUNK_MASK || len & HPA_CHUNK_MASK) {
		fake.errors++;
		return false;
	}
	for (i = fidx(addr); i < fidx((char *)addr + len); i++)
		if (fcommitted[i] != want_committed) {
			fake.errors++;
			return false;
		}
	return true;
}

static void set_range(void *addr, size_t len, uint8_t v)
{
	memset(fcommitted + fidx(addr), v, len >> HPA_CHUNK_SHIFT);
}

static void set_shared(void *addr, size_t len, uint8_t v)
{
	size_t i;

	for (i = fidx(addr); i < fidx((char *)addr + len); i++) {
		nshared += (long)v - (long)fshared[i];
		fshared[i] = v;
	}
}

static int f_commit_locked(void *addr, size_t len, int node,
			   unsigned int flags, struct hpa_commit *out)
{
	bool allow_1g = flags & HPA_COMMIT_1G;

	if (!check_range(addr, len, false))
		return -EINVAL;
	if (fake.fail_commits > 0 && fake.fail_after > 0) {
		fake.fail_after--;
	} else if (fake.fail_commits > 0) {
		fake.fail_commits--;
		return -ENOMEM;
	}
	if (mprotect(addr, len, PROT_READ | PROT_WRITE))
		return -errno;
	madvise(addr, len, MADV_HUGEPAGE);	/* fewer faults: faster tests */
	set_range(addr, len, 1);
	fake.commits++;
	fake.commit_bytes += len;
	fake.last_node = node;
	out->backend = (uint8_t)fake.backend;
	out->page_shift = allow_1g && fake.has_1g &&
			  !((uintptr_t)addr & (HPA_GiB - 1)) &&
			  !(len & (HPA_GiB - 1)) ? 30 : 21;
	out->fallback = fake.report_fallback;
	if (flags & HPA_COMMIT_SMALL) {
		fake.small_commits++;
		out->backend = HPA_BACKEND_4K;
		out->page_shift = 12;
		out->fallback = false;
	}
	set_shared(addr, len, out->backend == HPA_BACKEND_DEVICE);
	return 0;
}

static int f_decommit_locked(void *addr, size_t len)
{
	if (!check_range(addr, len, true))
		return -EINVAL;
	madvise(addr, len, MADV_DONTNEED);
	mprotect(addr, len, PROT_NONE);
	set_range(addr, len, 0);
	set_shared(addr, len, 0);
	fake.decommits++;
	return 0;
}

static int f_move_locked(void *from, void *to, size_t len)
{
	if (!fake.move_ok)
		return -EOPNOTSUPP;
	if (!check_range(from, len, true) || !check_range(to, len, false))
		return -EINVAL;
	if (mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to) ==
	    MAP_FAILED)
		return -errno;
	mmap(from, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
	     MAP_NORESERVE, -1, 0);
	set_range(from, len, 0);
	set_range(to, len, 1);
	set_shared(to, len, fshared[fidx(from)]);
	set_shared(from, len, 0);
	fake.moves++;
	return 0;
}

static int f_commit(void *addr, size_t len, int node, unsigned int flags,
		    struct hpa_commit *out)
{
	int r;

	pthread_mutex_lock(&fake_lock);
	r = f_commit_locked(addr, len, node, flags, out);
	pthread_mutex_unlock(&fake_lock);
	return r;
}

static int f_decommit(void *addr, size_t len)
{
	int r;

	pthread_mutex_lock(&fake_lock);
	r = f_decommit_locked(addr, len);
	pthread_mutex_unlock(&fake_lock);
	return r;
}

static int f_move(void *from, void *to, size_t len)
{
	int r;

	pthread_mutex_lock(&fake_lock);
	r = f_move_locked(from, to, len);
	pthread_mutex_unlock(&fake_lock);
	return r;
}

static int f_dma_commit(void *addr, size_t len, int node, bool page_1g,
			uint64_t *handle)
{
	struct hpa_commit out;
	int err;

	if (!fake.dma_ok)
		return -ENODEV;
	err = f_commit(addr, len, node, page_1g, &out);
	if (!err) {
		/* DMA buffers stay shared with a child: that is their point. */
		pthread_mutex_lock(&fake_lock);
		set_shared(addr, len, 0);
		pthread_mutex_unlock(&fake_lock);
		fake.dma_commits++;
		*handle = 0x10000000000ULL * (uint64_t)fake.dma_commits;
	}
	return err;
}

static int f_dma_release(void *addr, size_t len, uint64_t handle)
{
	(void)handle;
	return f_decommit(addr, len);
}

/* Fake physical addresses: the offset in the reservation + 4 GiB. */
static int f_virt2phys(const void *p, uint64_t handle, void *map_start,
		       uint64_t *phys)
{
	if (!map_start || !handle)
		return -EPERM;
	*phys = ((uintptr_t)p - (uintptr_t)fbase) + (4ULL << 30);
	return 0;
}

/* The fake has no device: the dma-buf calls say so. */
static int f_dma_query(uint64_t handle, uint64_t *phys, size_t n,
		       struct hpa_dma_query *out)
{
	(void)handle;
	(void)phys;
	(void)n;
	(void)out;
	return -ENODEV;
}

static int f_dma_export(uint64_t handle, bool readonly)
{
	(void)handle;
	(void)readonly;
	return -ENODEV;
}

static int f_map_fd(int fd, void *addr, size_t len, size_t align,
		    void **out)
{
	(void)fd;
	(void)addr;
	(void)len;
	(void)align;
	(void)out;
	return -ENODEV;
}

static int f_unmap_fd(void *addr, size_t len)
{
	(void)addr;
	(void)len;
	return -EINVAL;
}

static long f_fd_size(int fd)
{
	(void)fd;
	return -EBADF;
}

static int f_current_node(void)
{
	return fake.node;
}

static bool f_node_online(int node)
{
	return node >= 0 && node < 64 && (fake.online >> node) & 1;
}

static enum hpa_backend f_init(const char *forced)
{
	(void)forced;
	return fake.backend;
}

static bool f_has_1g(void)
{
	return fake.has_1g;
}

static uint64_t f_shared_heap_chunks(void)
{
	return (uint64_t)nshared;
}

static bool f_heap_shared(const void *addr)
{
	return (const char *)addr >= fbase &&
	       (const char *)addr < fbase + fsize && fshared[fidx(addr)];
}

/*
 * Fork child.  The fake's memory is private already; what is checked is
 * that the allocator asks for the right ranges: committed, and shared
 * unless they are hugetlb.  Without a copy the range reads zero after,
 * as the OS backend's fresh private memory does.
 */
static int f_privatize(void *addr, size_t len, int node, bool copy,
		       struct hpa_commit *out)
{
	size_t n = len >> HPA_CHUNK_SHIFT;

	(void)node;
	pthread_mutex_lock(&fake_lock);
	if (!check_range(addr, len, true) || !f_heap_shared(addr)) {
		fake.errors++;
		pthread_mutex_unlock(&fake_lock);
		return -EINVAL;
	}
	if (!copy) {
		memset(addr, 0, len);
		fake.privatize_zeroed += (long)n;
	}
	set_shared(addr, len, 0);
	fake.privatized += (long)n;
	pthread_mutex_unlock(&fake_lock);
	out->backend = HPA_BACKEND_THP;
	out->page_shift = 21;
	out->fallback = false;
	return 0;
}

static enum hpa_backend f_fork_child(void)
{
	fake.fork_children++;
	fake.backend = HPA_BACKEND_THP;
	return fake.backend;
}

static const struct hpa_prim_ops fake_ops = {
	.name = "fake",
	.reserve = f_reserve,
	.meta_map = f_meta_map,
	.commit = f_commit,
	.decommit = f_decommit,
	.move = f_move,
	.dma_commit = f_dma_commit,
	.dma_release = f_dma_release,
	.virt2phys = f_virt2phys,
	.dma_query = f_dma_query,
	.dma_export = f_dma_export,
	.map_fd = f_map_fd,
	.unmap_fd = f_unmap_fd,
	.fd_size = f_fd_size,
	.current_node = f_current_node,
	.node_online = f_node_online,
	.init = f_init,
	.has_1g = f_has_1g,
	.shared_heap_chunks = f_shared_heap_chunks,
	.heap_shared = f_heap_shared,
	.privatize = f_privatize,
	.fork_child = f_fork_child,
};

void fake_install(void)
{
	hpa_prim_set(&fake_ops);
}
