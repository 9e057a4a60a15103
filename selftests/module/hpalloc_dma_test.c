// SPDX-License-Identifier: GPL-2.0
/*
 * hpalloc issue 9: what DMA users (DPDK, storage, RDMA) rely on.  A
 * contiguous buffer freed a moment ago can be had again at once; a buffer
 * exported as a dma-buf maps with huge pages, lives while anything holds
 * it, is imported by a real driver (vgem) and is shared with another
 * process over SCM_RIGHTS.
 */
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/dma-buf.h>

#include "kselftest_harness.h"
#include "hpa_util.h"
#include "hpa_test_pool.h"

FIXTURE(dma) {
	int fd;
	int nid;		/* node the test's buffers come from */
	struct hpalloc_version v;
	struct hpa_pools pools0;
	bool have_pools;
};

FIXTURE_VARIANT(dma) {
	unsigned int page_size;
	int ps;			/* index into the pools: 0 2M, 1 1G */
};

FIXTURE_VARIANT_ADD(dma, p2m) {
	.page_size = HPALLOC_PAGE_SIZE_2M, .ps = 0,
};

FIXTURE_VARIANT_ADD(dma, p1g) {
	.page_size = HPALLOC_PAGE_SIZE_1G, .ps = 1,
};

FIXTURE_SETUP(dma)
{
	int nid;

	self->fd = open("/dev/hpalloc", O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/hpalloc is missing: module not loaded");
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, hpa_version(self->fd, &self->v));
	if (!(self->v.page_sizes & variant->page_size))
		SKIP(return, "page size %u not offered (no pdpe1gb?)",
		     variant->page_size);
	/*
	 * 2 MiB pages from this CPU's node; 1 GiB pages from the highest
	 * node that can give one (in the guest, node 2: 2 MiB pages there
	 * would fragment the GiBs it has).
	 */
	self->nid = variant->ps ? -1 : hpa_cpu_node();
	for (nid = HPA_MAX_NODES - 1; nid >= 0 && self->nid < 0; nid--) {
		struct hpalloc_alloc a;

		if (hpa_pool_read(nid, variant->ps, "total") < 0)
			continue;
		if (dev_alloc_full(self->fd, variant->page_size,
				   variant->page_size, HPALLOC_POLICY_BIND,
				   1ULL << nid, HPALLOC_ALLOC_CONTIG, &a))
			continue;
		dev_free(self->fd, a.offset);
		self->nid = nid;
	}
	if (self->nid < 0)
		SKIP(return, "no node can give a %u byte page",
		     variant->page_size);
	HPA_POOLS_SNAPSHOT(self);
}

FIXTURE_TEARDOWN(dma)
{
	hpa_set_overcommit(true);
	if (self->fd >= 0)
		close(self->fd);
	HPA_EXPECT_POOLS_BACK(self);
}

static void *map_buf(int fd, uint64_t off, size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
}

/* Wait until a pool has n free pages (freed pages pass through zeroing). */
static void wait_free(int nid, int ps, long n)
{
	long end = hpa_now_ms() + 30000;

	while (hpa_pool_read(nid, ps, "free") < n && hpa_now_ms() < end)
		usleep(20000);
}

/*
 * The pool holds all the node may give (its pages, or one if it has none)
 * and overcommit is off: a contiguous ALLOC right after the FREE of a page
 * finds it being zeroed and must wait for it, as a plain ALLOC does,
 * instead of failing with ENOMEM.  A 1 GiB pool uses the page reserved at
 * load: the node may have no second free GiB to grow by.
 *
 * A 2 MiB page is cleared in a moment, so the ALLOC may come just as it
 * leaves the zeroing worker; the 2 MiB variant asks 32 times.  (The module
 * once read "is anything being zeroed" after the free list was seen empty,
 * not before, and one CI run failed with ENOMEM; that window is a few
 * hundred instructions wide and these rounds do not hit it on demand.)
 *
 * The test waits for up to four zeroings of the whole pool (wait_free
 * allows each 30 s): a 1 GiB page takes seconds to clear under TCG, and
 * several times that when the host's CPUs are busy, so the harness's
 * default 30 s for the whole test is too short; 180 s covers the waits.
 */
TEST_F_TIMEOUT(dma, contig_alloc_waits_for_zeroing, 180)
{
	size_t ps = variant->page_size, i;
	int nid = self->nid, ps_i = variant->ps;
	long target0 = hpa_pool_read(nid, ps_i, "target");
	long min0 = hpa_pool_read(nid, ps_i, "min");
	long n = target0 > 0 ? target0 : 1;
	uint64_t bind = 1ULL << nid;
	/* each round asks while the page of the round before is zeroed */
	int rounds = ps_i ? 2 : 32, round, ret;
	struct hpalloc_alloc a;
	uint64_t *p;

	ASSERT_LE(0, target0);
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "min", n));
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "target", n));
	if (hpa_pool_read(nid, ps_i, "target") < n) {
		hpa_pool_write(nid, ps_i, "target", target0);
		hpa_pool_write(nid, ps_i, "min", min0);
		SKIP(return, "node %d cannot give a %zu MiB page", nid, ps >> 20);
	}
	wait_free(nid, ps_i, n);
	ASSERT_EQ(n, hpa_pool_read(nid, ps_i, "free"));
	ASSERT_EQ(0, hpa_set_overcommit(false));

	/* take every page of the pool, dirty them, give them back */
	ASSERT_EQ(0, dev_alloc_full(self->fd, n * ps, ps, HPALLOC_POLICY_BIND,
				    bind, 0, &a));
	p = map_buf(self->fd, a.offset, n * ps);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < n * ps / 8; i += 4096 / 8)
		p[i] = 0x5a5a5a5a5a5a5a5aULL;
	ASSERT_EQ(0, munmap(p, n * ps));
	ASSERT_EQ(0, dev_free(self->fd, a.offset));

	for (round = 0; round < rounds; round++) {
		/* the one page asked for at once, while it is being zeroed */
		ret = dev_alloc_full(self->fd, ps, ps, HPALLOC_POLICY_BIND,
				     bind, HPALLOC_ALLOC_CONTIG, &a);
		EXPECT_EQ(0, ret) TH_LOG("round %d: free %ld zeroing %ld",
					 round, hpa_pool_read(nid, ps_i, "free"),
					 hpa_pool_read(nid, ps_i, "zeroing"));
		if (ret)
			break;
		p = map_buf(self->fd, a.offset, ps);
		EXPECT_NE(MAP_FAILED, p);
		for (i = 0; p != MAP_FAILED && i < ps / 8; i += 4096 / 8) {
			if (p[i]) {
				EXPECT_EQ(0, p[i]) TH_LOG("word %zu", i);
				break;
			}
			p[i] = 0x5a5a5a5a5a5a5a5aULL;
		}
		if (p != MAP_FAILED)
			EXPECT_EQ(0, munmap(p, ps));
		EXPECT_EQ(0, dev_free(self->fd, a.offset));
	}
	/* put the pool back even after a failure: later tests need it */
	hpa_set_overcommit(true);
	wait_free(nid, ps_i, n);
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "target", target0));
	ASSERT_EQ(0, hpa_pool_write(nid, ps_i, "min", min0));
}

/* ---- dma-buf export ------------------------------------------------------ */

static int export_dmabuf(int fd, uint64_t offset, uint32_t flags, int *out)
{
	struct hpalloc_export_dmabuf e = { .offset = offset, .flags = flags };
	int ret = hpa_ioctl(fd, HPALLOC_IOC_EXPORT_DMABUF, &e);

	if (!ret)
		*out = e.fd;
	return ret;
}

/*
 * A mapping of len bytes at an address aligned to align: reserve len +
 * align, then map over the aligned part (the dma-buf file has no
 * get_unmapped_area of its own).
 */
static void *map_aligned(int fd, size_t len, size_t align, int prot)
{
	char *r = mmap(NULL, len + align, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *a, *p;

	if (r == MAP_FAILED)
		return MAP_FAILED;
	a = (char *)(((uintptr_t)r + align - 1) & ~(uintptr_t)(align - 1));
	p = mmap(a, len, prot, MAP_SHARED | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;

		munmap(r, len + align);
		errno = e;
		return MAP_FAILED;
	}
	if (a > r)
		munmap(r, a - r);
	munmap(a + len, r + len + align - (a + len));
	return p;
}

/* A buffer of n pages on the fixture's node, filled with a pattern. */
static int make_filled(struct __test_metadata *_metadata, int fd, int nid,
		       size_t ps, unsigned int n, uint64_t *offset)
{
	struct hpalloc_alloc a;
	uint64_t *p;
	size_t i;
	int ret;

	ret = dev_alloc_full(fd, n * ps, ps, HPALLOC_POLICY_BIND, 1ULL << nid,
			     0, &a);
	if (ret)
		return ret;
	p = map_buf(fd, a.offset, n * ps);
	if (p == MAP_FAILED)
		return -errno;
	for (i = 0; i < n * ps / 8; i += 4096 / 8)
		p[i] = 0x1000000000000000ULL + i;
	munmap(p, n * ps);
	*offset = a.offset;
	return 0;
}

static bool pattern_ok(const uint64_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len / 8; i += 4096 / 8)
		if (p[i] != 0x1000000000000000ULL + i)
			return false;
	return true;
}

TEST_F(dma, export_bad_arguments)
{
	struct hpalloc_export_dmabuf e, *ro;
	uint64_t off;
	int bit, dfd;

	ASSERT_TRUE(self->v.features & HPALLOC_FEAT_DMABUF);
	ASSERT_TRUE(self->v.ioctls &
		    (1ULL << _IOC_NR(HPALLOC_IOC_EXPORT_DMABUF)));
	ASSERT_EQ(0, make_filled(_metadata, self->fd, self->nid,
				 variant->page_size, 1, &off));
	for (bit = 0; bit < 32; bit++) {
		if ((1U << bit) & HPALLOC_EXPORT_VALID)
			continue;
		EXPECT_EQ(-EINVAL, export_dmabuf(self->fd, off, 1U << bit,
						 &dfd)) TH_LOG("bit %d", bit);
	}
	e = (struct hpalloc_export_dmabuf){ .offset = off, .reserved_in = 1 };
	EXPECT_EQ(-EINVAL, hpa_ioctl(self->fd, HPALLOC_IOC_EXPORT_DMABUF, &e));
	e = (struct hpalloc_export_dmabuf){ .offset = off, .fd = 3 };
	EXPECT_EQ(-EINVAL, hpa_ioctl(self->fd, HPALLOC_IOC_EXPORT_DMABUF, &e));
	e = (struct hpalloc_export_dmabuf){ .offset = off, .reserved_out = 1 };
	EXPECT_EQ(-EINVAL, hpa_ioctl(self->fd, HPALLOC_IOC_EXPORT_DMABUF, &e));
	EXPECT_EQ(-EINVAL, export_dmabuf(self->fd, 0, 0, &dfd));
	EXPECT_EQ(-EINVAL, export_dmabuf(self->fd, off + 4096, 0, &dfd));
	EXPECT_EQ(-ENOENT, export_dmabuf(self->fd, off + (1ULL << 50), 0,
					 &dfd));
	/*
	 * The answer cannot be written back (a read-only struct): the fd the
	 * export made is closed again.  It would have been the lowest free.
	 */
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	*ro = (struct hpalloc_export_dmabuf){ .offset = off };
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	dfd = dup(0);
	ASSERT_LE(0, dfd);
	close(dfd);
	EXPECT_EQ(-EFAULT, hpa_ioctl(self->fd, HPALLOC_IOC_EXPORT_DMABUF, ro));
	EXPECT_EQ(-1, fcntl(dfd, F_GETFD));
	EXPECT_EQ(EBADF, errno);
	munmap(ro, 4096);
	EXPECT_EQ(0, dev_free(self->fd, off));
}

/*
 * The dma-buf maps like the device: one fault and one PMD per 2 MiB (a
 * 1 GiB page is mapped by 2 MiB entries there, because the kernel cannot
 * mremap a PUD and the dma-buf's file gives no hook to refuse the move),
 * the buffer's bytes, and the same refusals (private, unaligned).  It keeps
 * the buffer after the handle and the device file are gone, and moves with
 * mremap, the old address faulting afterwards.
 */
TEST_F(dma, dmabuf_mmap_huge_and_outlives_handle)
{
	size_t ps = variant->page_size, len;
	unsigned int n = variant->ps ? 1 : 4;
	long in_use0 = hpa_pool_read(self->nid, variant->ps, "in_use");
	uint64_t off;
	int dfd, rofd;
	long flt;
	char *p;
	size_t i;

	len = n * ps;
	ASSERT_EQ(0, make_filled(_metadata, self->fd, self->nid, ps, n, &off));
	ASSERT_EQ(0, export_dmabuf(self->fd, off,
				   HPALLOC_EXPORT_WRITE | HPALLOC_EXPORT_CLOEXEC,
				   &dfd));
	EXPECT_EQ(FD_CLOEXEC, fcntl(dfd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_RDWR, fcntl(dfd, F_GETFL) & O_ACCMODE);
	EXPECT_EQ((off_t)len, lseek(dfd, 0, SEEK_END));
	ASSERT_EQ(0, export_dmabuf(self->fd, off, 0, &rofd));
	EXPECT_EQ(O_RDONLY, fcntl(rofd, F_GETFL) & O_ACCMODE);
	EXPECT_EQ(0, dev_free(self->fd, off));
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(in_use0 + n, hpa_pool_read(self->nid, variant->ps,
					     "in_use"));

	/* refused: private, unaligned address, unaligned offset, too long */
	p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, dfd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	p = map_aligned(dfd, len, ps, PROT_READ);
	ASSERT_NE(MAP_FAILED, p);
	munmap(p, len);
	/* into the hole just left, so that no vma has to be split */
	EXPECT_EQ(MAP_FAILED, mmap(p + 4096, ps, PROT_READ,
				   MAP_SHARED | MAP_FIXED, dfd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(p, ps, PROT_READ, MAP_SHARED | MAP_FIXED,
				   dfd, 4096));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, len + ps, PROT_READ, MAP_SHARED,
				   dfd, 0));
	/* read-only export: no writable mapping */
	EXPECT_EQ(MAP_FAILED, map_aligned(rofd, len, ps,
					  PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	p = map_aligned(rofd, len, ps, PROT_READ);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_TRUE(pattern_ok((uint64_t *)p, len));
	munmap(p, len);
	close(rofd);

	p = map_aligned(dfd, len, ps, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	flt = hpa_minflt();
	EXPECT_TRUE(pattern_ok((uint64_t *)p, len));
	for (i = 0; i < len; i += 4096)
		p[i + 8] = 1;
	EXPECT_EQ((long)(len / SZ_2M), hpa_minflt() - flt);
	EXPECT_EQ((long)(SZ_2M >> 10), hpa_smaps_kernel_page_kb(p));
	close(dfd);
	{
		char *hole = mmap(NULL, 2 * len, PROT_NONE, MAP_PRIVATE |
				  MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		char *dst, *q;

		ASSERT_NE(MAP_FAILED, hole);
		dst = (char *)(((uintptr_t)hole + ps - 1) & ~(ps - 1));
		q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
		ASSERT_EQ(dst, q) TH_LOG("mremap: %s", strerror(errno));
		EXPECT_EQ(SIGSEGV, hpa_touch_here(p));
		p = q;
		munmap(hole, (size_t)(dst - hole));
		munmap(dst + len, (size_t)(hole + 2 * len - (dst + len)));
	}
	/* the mapping holds the buffer now */
	EXPECT_EQ(in_use0 + n, hpa_pool_read(self->nid, variant->ps,
					     "in_use"));
	EXPECT_EQ(1, p[len - 4096 + 8]);
	EXPECT_EQ(0, munmap(p, len));
	/* and the pools come back (the fixture's teardown checks them) */
}

/*
 * DPDK's primary/secondary: the owner makes the buffer, maps it, writes,
 * sends the dma-buf fd and its address, and exits.  The test process maps
 * the fd at that address and finds the bytes; the pages stay in use until
 * it lets go, and the pools come back after.
 */
TEST_F(dma, second_process_maps_at_same_address)
{
	size_t ps = variant->page_size;
	unsigned int n = variant->ps ? 1 : 2;
	size_t len = n * ps;
	long in_use0 = hpa_pool_read(self->nid, variant->ps, "in_use");
	uint64_t addr = 0;
	int sv[2], status, dfd;
	pid_t pid;
	char *p;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = open("/dev/hpalloc", O_RDWR), efd;
		struct hpalloc_alloc a;
		uint64_t *q;
		size_t i;

		close(sv[0]);
		if (fd < 0 || dev_alloc_full(fd, len, ps, HPALLOC_POLICY_BIND,
					     1ULL << self->nid, 0, &a))
			_exit(1);
		q = map_buf(fd, a.offset, len);
		if (q == MAP_FAILED)
			_exit(2);
		for (i = 0; i < len / 8; i += 4096 / 8)
			q[i] = 0x1000000000000000ULL + i;
		if (export_dmabuf(fd, a.offset, HPALLOC_EXPORT_WRITE, &efd))
			_exit(3);
		if (hpa_send_fd(sv[1], efd, (uintptr_t)q))
			_exit(4);
		/* exit with everything still open and mapped */
		_exit(0);
	}
	close(sv[1]);
	dfd = hpa_recv_fd(sv[0], &addr);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_LE(0, dfd);
	close(sv[0]);
	ASSERT_EQ(0, addr % ps);
	EXPECT_EQ(in_use0 + n, hpa_pool_read(self->nid, variant->ps,
					     "in_use"));

	p = mmap((void *)(uintptr_t)addr, len, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, dfd, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("errno %d", errno);
	EXPECT_EQ(addr, (uintptr_t)p);
	EXPECT_TRUE(pattern_ok((uint64_t *)p, len));
	/* a dma-buf maps 1 GiB pages with 2 MiB entries too */
	EXPECT_EQ((long)(SZ_2M >> 10), hpa_smaps_kernel_page_kb(p));
	EXPECT_EQ(0, munmap(p, len));
	close(dfd);
}

/* ---- an in-kernel importer: vgem (DRM PRIME) ----------------------------- */

/* The DRM ioctls used here (include/uapi/drm/drm.h, a stable ABI). */
struct t_drm_version {
	int version_major, version_minor, version_patchlevel;
	size_t name_len;
	char *name;
	size_t date_len;
	char *date;
	size_t desc_len;
	char *desc;
};

struct t_drm_prime_handle {
	uint32_t handle;
	uint32_t flags;
	int32_t fd;
};

struct t_drm_gem_close {
	uint32_t handle;
	uint32_t pad;
};

#define T_DRM_IOCTL_VERSION	_IOWR('d', 0x00, struct t_drm_version)
#define T_DRM_IOCTL_GEM_CLOSE	_IOW('d', 0x09, struct t_drm_gem_close)
#define T_DRM_IOCTL_PRIME_HANDLE_TO_FD \
	_IOWR('d', 0x2d, struct t_drm_prime_handle)
#define T_DRM_IOCTL_PRIME_FD_TO_HANDLE \
	_IOWR('d', 0x2e, struct t_drm_prime_handle)

/* An open DRM device whose driver is vgem, or -1. */
static int open_vgem(void)
{
	char path[32], name[16];
	int i, fd;

	for (i = 0; i < 16; i++) {
		struct t_drm_version v = { .name_len = sizeof(name) - 1,
					   .name = name };

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(name, 0, sizeof(name));
		if (!ioctl(fd, T_DRM_IOCTL_VERSION, &v) &&
		    !strcmp(name, "vgem"))
			return fd;
		close(fd);
	}
	return -1;
}

/*
 * How many devices are attached to the dma-buf with inode ino, from
 * /sys/kernel/debug/dma_buf/bufinfo (the dma-buf core's own account);
 * -1 if the buffer is not listed, -2 without debugfs.
 */
static int dmabuf_attached(unsigned long ino)
{
	static char text[1 << 16];
	char key[32], *at;
	int fd = open("/sys/kernel/debug/dma_buf/bufinfo", O_RDONLY);
	ssize_t len = 0, r;
	int n;

	if (fd < 0)
		return -2;
	while ((r = read(fd, text + len, sizeof(text) - 1 - len)) > 0)
		len += r;
	close(fd);
	text[len] = 0;
	/* a row: size flags mode count exp_name ino name */
	snprintf(key, sizeof(key), "\thpalloc\t%08lu\t", ino);
	at = strstr(text, key);
	if (!at)
		return -1;
	at = strstr(at, "Total ");
	if (!at || sscanf(at, "Total %d devices attached", &n) != 1)
		return -1;
	return n;
}

/*
 * vgem imports the dma-buf: it attaches and maps it (our sg_table through
 * dma_map_sgtable for its device), holds it while the GEM handle lives
 * (handing back the same dma-buf on export), and lets go on close.  CPU
 * access brackets (DMA_BUF_IOCTL_SYNC) work while it is attached.
 */
TEST_F(dma, vgem_imports_dmabuf)
{
	size_t ps = variant->page_size;
	unsigned int n = variant->ps ? 1 : 3;
	struct dma_buf_sync sync = { 0 };
	struct t_drm_prime_handle h = { 0 }, back;
	struct t_drm_gem_close gc = { 0 };
	struct stat st, st_back;
	int vfd, dfd;
	uint64_t off;
	char *p;

	vfd = open_vgem();
	if (vfd < 0)
		SKIP(return, "no vgem DRM device (module vgem not loaded)");
	ASSERT_EQ(0, make_filled(_metadata, self->fd, self->nid, ps, n, &off));
	ASSERT_EQ(0, export_dmabuf(self->fd, off, HPALLOC_EXPORT_WRITE, &dfd));
	ASSERT_EQ(0, dev_free(self->fd, off));
	ASSERT_EQ(0, fstat(dfd, &st));
	if (dmabuf_attached(st.st_ino) == -2)
		TH_LOG("no debugfs: attachments not checked from outside");
	else
		EXPECT_EQ(0, dmabuf_attached(st.st_ino));

	h.fd = dfd;
	ASSERT_EQ(0, ioctl(vfd, T_DRM_IOCTL_PRIME_FD_TO_HANDLE, &h))
		TH_LOG("vgem import failed: errno %d", errno);
	EXPECT_NE(0, h.handle);
	if (dmabuf_attached(st.st_ino) != -2)
		EXPECT_EQ(1, dmabuf_attached(st.st_ino));
	back = (struct t_drm_prime_handle){ .handle = h.handle,
					    .flags = O_CLOEXEC };
	ASSERT_EQ(0, ioctl(vfd, T_DRM_IOCTL_PRIME_HANDLE_TO_FD, &back));
	ASSERT_EQ(0, fstat(back.fd, &st_back));
	EXPECT_EQ(st.st_ino, st_back.st_ino);
	close(back.fd);

	/* the CPU's view while a device has it mapped */
	p = map_aligned(dfd, n * ps, ps, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	sync.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW;
	EXPECT_EQ(0, ioctl(dfd, DMA_BUF_IOCTL_SYNC, &sync));
	EXPECT_TRUE(pattern_ok((uint64_t *)p, n * ps));
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
	EXPECT_EQ(0, ioctl(dfd, DMA_BUF_IOCTL_SYNC, &sync));
	EXPECT_EQ(0, munmap(p, n * ps));

	/* the importer holds it: our fd can go */
	close(dfd);
	EXPECT_LE(n, hpa_pool_read(self->nid, variant->ps, "in_use"));
	gc.handle = h.handle;
	EXPECT_EQ(0, ioctl(vfd, T_DRM_IOCTL_GEM_CLOSE, &gc));
	close(vfd);
}

TEST_HARNESS_MAIN
