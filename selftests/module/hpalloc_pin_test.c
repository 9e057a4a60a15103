// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel pinning hpalloc pages: O_DIRECT reads into and writes from a
 * buffer, io_uring fixed buffers, vmsplice, process_vm_readv/writev and
 * futexes inside a buffer.  Each either returns the right bytes or fails
 * cleanly (EFAULT, or the kernel's own refusal), per docs/device.md.  A
 * page that is still pinned after its buffer was freed is neither zeroed
 * nor handed to a new owner until the pin drops, and the pool counters come
 * back to where they began once it does.
 */
#include <linux/futex.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "hpa_util.h"
#include "hpa_test_pool.h"

#define DISK		"/mnt/disk"
#define PATTERN		DISK "/pattern"
#define PATTERN_SIZE	(32UL << 20)

/* The buffer a test pins: page size, pages, contiguous or not. */
struct pin_kind {
	int ps;			/* 0: 2 MiB, 1: 1 GiB */
	unsigned int nr;	/* pages */
	bool contig;		/* HPALLOC_ALLOC_CONTIG */
	const char *name;
};

/*
 * docs/device.md, "Pinning": whether GUP may take a buffer's pages.  2 MiB
 * pool pages are compound and pinnable on every kernel; a 1 GiB page is one
 * compound folio only from 6.9 (6.12 here), before that GUP gets EFAULT.  A
 * contiguous range from the page allocator is one compound folio from 6.9
 * when its page count is a power of two, else EFAULT.
 */
static bool pin_expected(const struct hpalloc_version *v,
			 const struct pin_kind *k)
{
	if (!(v->features & HPALLOC_FEAT_GUP))
		return false;
	if (k->contig)
		return !hpa_kernel_before(6, 9) && !(k->nr & (k->nr - 1));
	return k->ps == 0 || !hpa_kernel_before(6, 9);
}

/* Word i of the pattern file holds its own byte offset. */
static size_t check_pattern(const void *p, size_t len, uint64_t file_off)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i] != file_off + i * 8)
			return i + 1;
	return 0;
}

static void fill_words(void *p, size_t len, uint64_t seed)
{
	uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = (seed + i) * 0x9e3779b97f4a7c15ULL;
}

static size_t check_words(const void *p, size_t len, uint64_t seed)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i] != (seed + i) * 0x9e3779b97f4a7c15ULL)
			return i + 1;
	return 0;
}

static bool all_zero(const void *p, size_t len)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* ---- a minimal io_uring, raw syscalls --------------------------------- */

struct uring {
	int fd;
	void *sq_ring, *cq_ring;
	size_t sq_len, cq_len, sqes_len;
	unsigned int *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int uring_init(struct uring *u)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	memset(u, 0, sizeof(*u));
	u->fd = syscall(__NR_io_uring_setup, 4, &p);
	if (u->fd < 0)
		return -errno;
	u->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	u->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (u->cq_len > u->sq_len)
			u->sq_len = u->cq_len;
		u->cq_len = u->sq_len;
	}
	u->sq_ring = mmap(NULL, u->sq_len, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQ_RING);
	if (u->sq_ring == MAP_FAILED)
		return -errno;
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		u->cq_ring = u->sq_ring;
	else
		u->cq_ring = mmap(NULL, u->cq_len, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_POPULATE, u->fd,
				  IORING_OFF_CQ_RING);
	if (u->cq_ring == MAP_FAILED)
		return -errno;
	u->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	u->sqes = mmap(NULL, u->sqes_len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQES);
	if (u->sqes == MAP_FAILED)
		return -errno;
	u->sq_tail = (unsigned int *)((char *)u->sq_ring + p.sq_off.tail);
	u->sq_mask = (unsigned int *)((char *)u->sq_ring + p.sq_off.ring_mask);
	u->sq_array = (unsigned int *)((char *)u->sq_ring + p.sq_off.array);
	u->cq_head = (unsigned int *)((char *)u->cq_ring + p.cq_off.head);
	u->cq_tail = (unsigned int *)((char *)u->cq_ring + p.cq_off.tail);
	u->cq_mask = (unsigned int *)((char *)u->cq_ring + p.cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)((char *)u->cq_ring + p.cq_off.cqes);
	return 0;
}

static void uring_exit(struct uring *u)
{
	if (u->sqes && u->sqes != MAP_FAILED)
		munmap(u->sqes, u->sqes_len);
	if (u->cq_ring && u->cq_ring != MAP_FAILED && u->cq_ring != u->sq_ring)
		munmap(u->cq_ring, u->cq_len);
	if (u->sq_ring && u->sq_ring != MAP_FAILED)
		munmap(u->sq_ring, u->sq_len);
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}

static int uring_register_buf(struct uring *u, void *addr, size_t len)
{
	struct iovec iov = { .iov_base = addr, .iov_len = len };

	if (syscall(__NR_io_uring_register, u->fd, IORING_REGISTER_BUFFERS,
		    &iov, 1))
		return -errno;
	return 0;
}

static int uring_unregister_bufs(struct uring *u)
{
	if (syscall(__NR_io_uring_register, u->fd, IORING_UNREGISTER_BUFFERS,
		    NULL, 0))
		return -errno;
	return 0;
}

/* One READ_FIXED / WRITE_FIXED from registered buffer 0; its result. */
static int uring_rw_fixed(struct uring *u, int op, int fd, void *addr,
			  unsigned int len, uint64_t off)
{
	unsigned int tail = *u->sq_tail, idx = tail & *u->sq_mask, head;
	struct io_uring_sqe *sqe = &u->sqes[idx];
	int ret;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = op;
	sqe->fd = fd;
	sqe->addr = (uintptr_t)addr;
	sqe->len = len;
	sqe->off = off;
	sqe->buf_index = 0;
	u->sq_array[idx] = idx;
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
	ret = syscall(__NR_io_uring_enter, u->fd, 1, 1,
		      IORING_ENTER_GETEVENTS, NULL, 0);
	if (ret < 0)
		return -errno;
	head = __atomic_load_n(u->cq_head, __ATOMIC_ACQUIRE);
	if (head == __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE))
		return -EIO;
	ret = u->cqes[head & *u->cq_mask].res;
	__atomic_store_n(u->cq_head, head + 1, __ATOMIC_RELEASE);
	return ret;
}

/* ---- fixture -------------------------------------------------------------- */

FIXTURE(pin) {
	int fd;
	struct hpalloc_version ver;
	struct hpa_pools pools0;
	bool have_pools;
	size_t psz, len;
	uint64_t off;
	char *p;
	int nid;
};

FIXTURE_VARIANT(pin) {
	struct pin_kind k;
};

/*
 * One buffer (two 2 MiB pages, one 1 GiB page, or a contiguous run of
 * 2 MiB pages), mapped.  A 1 GiB page comes from the node that has one
 * reserved (scripts/vm-run.sh loads the module with pages_1g=).
 */
static void pin_buffer_setup(struct __test_metadata *_metadata,
			     FIXTURE_DATA(pin) *self,
			     const struct pin_kind *k)
{
	struct hpalloc_alloc a;
	int ret, nid = hpa_cpu_node();
	uint64_t mask;

	self->psz = hpa_psize_bytes(k->ps);
	self->len = k->nr * self->psz;
	if (!(self->ver.page_sizes & self->psz))
		SKIP(return, "page size not offered");
	/*
	 * A contiguous buffer comes from the page allocator (what the table
	 * in docs/device.md is about) only when the pool has no free run.
	 */
	if (k->contig && hpa_pool_read(nid, 0, "free") > 0)
		SKIP(return, "node%d's 2M pool has free pages", nid);
	mask = (1ULL << self->ver.nr_node_ids) - 1;
	if (k->ps) {
		int rnid = hpa_reserved_1g_node();

		if (rnid < 0)
			SKIP(return, HPA_NO_1G_RESERVED);
		mask = 1ULL << rnid;
	}
	if (k->contig)
		ret = dev_alloc_full(self->fd, self->len, self->psz,
				     HPALLOC_POLICY_BIND, 1ULL << nid,
				     HPALLOC_ALLOC_CONTIG, &a);
	else
		ret = dev_alloc_full(self->fd, self->len, self->psz,
				     HPALLOC_POLICY_BIND, mask, 0, &a);
	ASSERT_EQ(0, ret) TH_LOG("%s buffer: %s", k->name, strerror(-ret));
	self->off = a.offset;
	self->nid = __builtin_ctzll(a.nodes);
	self->p = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       self->fd, self->off);
	ASSERT_NE(MAP_FAILED, self->p);
}

FIXTURE_SETUP(pin)
{
	int ret;

	self->p = MAP_FAILED;
	self->fd = open(HPALLOC_DEVICE, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/hpalloc is missing: module not loaded");
	ASSERT_LE(0, self->fd);
	ret = hpa_version(self->fd, &self->ver);
	if (ret == -ENOTTY)
		SKIP(return, "HPALLOC_IOC_VERSION not implemented");
	ASSERT_EQ(0, ret);
	HPA_POOLS_SNAPSHOT(self);
	pin_buffer_setup(_metadata, self, &variant->k);
}

FIXTURE_TEARDOWN(pin)
{
	if (self->p != MAP_FAILED)
		munmap(self->p, self->len);
	if (self->fd >= 0)
		close(self->fd);
}

FIXTURE_VARIANT_ADD(pin, p2m) {
	.k = { .ps = 0, .nr = 2, .name = "2M" },
};
FIXTURE_VARIANT_ADD(pin, p1g) {
	.k = { .ps = 1, .nr = 1, .name = "1G" },
};
FIXTURE_VARIANT_ADD(pin, contig4) {
	.k = { .ps = 0, .nr = 4, .contig = true, .name = "contig 4x2M" },
};
FIXTURE_VARIANT_ADD(pin, contig3) {
	.k = { .ps = 0, .nr = 3, .contig = true, .name = "contig 3x2M" },
};

#define NEED_DISK() do {						\
	if (access(PATTERN, R_OK))					\
		SKIP(return, PATTERN " is missing (no guest disk)"); \
} while (0)

/* Gives the buffer back: unmapped and freed. */
static void drop_buffer(FIXTURE_DATA(pin) *self)
{
	munmap(self->p, self->len);
	self->p = MAP_FAILED;
	dev_free(self->fd, self->off);
}

/*
 * After the buffer was freed while the kernel still pins its first page:
 * new buffers on that node never get that page, and read zero.
 */
static int pinned_page_not_reused(int fd, int nid, uint64_t pinned_phys)
{
	uint64_t offs[8];
	int i, n, bad = 0;

	for (n = 0; n < 8; n++) {
		struct hpalloc_alloc a;
		char *q;

		if (dev_alloc_full(fd, SZ_2M, 0, HPALLOC_POLICY_BIND,
				   1ULL << nid, 0, &a))
			break;
		offs[n] = a.offset;
		if (pinned_phys && hpa_buf_phys(fd, a.offset, 0) == pinned_phys)
			bad |= 1;
		q = mmap(NULL, SZ_2M, PROT_READ, MAP_SHARED, fd, a.offset);
		if (q == MAP_FAILED || !all_zero(q, SZ_2M))
			bad |= 2;
		if (q != MAP_FAILED)
			munmap(q, SZ_2M);
	}
	for (i = 0; i < n; i++)
		dev_free(fd, offs[i]);
	return bad;
}

/* ---- O_DIRECT -------------------------------------------------------------- */

TEST_F(pin, odirect_read)
{
	/* from 1 MiB into the file, landing across the two 2 MiB pages */
	size_t n = variant->k.ps ? 4UL << 20 : SZ_2M;
	size_t at = variant->k.ps ? SZ_1G / 2 : SZ_2M / 2;
	uint64_t foff = 1UL << 20;
	ssize_t got;
	int dfd;

	NEED_DISK();
	dfd = open(PATTERN, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, dfd) TH_LOG("open O_DIRECT: %s", strerror(errno));
	memset(self->p + at, 0x5a, n);
	got = pread(dfd, self->p + at, n, foff);
	if (pin_expected(&self->ver, &variant->k)) {
		ASSERT_EQ((ssize_t)n, got) TH_LOG("O_DIRECT read: %s",
						  strerror(errno));
		EXPECT_EQ(0, check_pattern(self->p + at, n, foff));
	} else {
		EXPECT_EQ(-1, got);
		EXPECT_EQ(EFAULT, errno);
	}
	TH_LOG("O_DIRECT read into %s pages: %s", variant->k.name,
	       got == (ssize_t)n ? "works" : strerror(errno));
	close(dfd);
	drop_buffer(self);
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_F(pin, odirect_write)
{
	size_t n = variant->k.ps ? 4UL << 20 : SZ_2M;
	size_t at = variant->k.ps ? SZ_1G - n : SZ_2M - 8192;
	char path[64], *back;
	ssize_t put;
	int dfd;

	NEED_DISK();
	snprintf(path, sizeof(path), DISK "/hpa-odirect-%d", getpid());
	dfd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
	ASSERT_LE(0, dfd) TH_LOG("create %s: %s", path, strerror(errno));
	fill_words(self->p + at, n, 77);
	put = pwrite(dfd, self->p + at, n, 0);
	if (pin_expected(&self->ver, &variant->k)) {
		ASSERT_EQ((ssize_t)n, put) TH_LOG("O_DIRECT write: %s",
						  strerror(errno));
	} else {
		EXPECT_EQ(-1, put);
		EXPECT_EQ(EFAULT, errno);
	}
	TH_LOG("O_DIRECT write from %s pages: %s", variant->k.name,
	       put == (ssize_t)n ? "works" : strerror(errno));
	ASSERT_EQ(0, fsync(dfd));
	close(dfd);
	if (put == (ssize_t)n) {
		/* read back through the page cache, not the buffer */
		back = malloc(n);
		ASSERT_NE(NULL, back);
		dfd = open(path, O_RDONLY);
		ASSERT_LE(0, dfd);
		posix_fadvise(dfd, 0, 0, POSIX_FADV_DONTNEED);
		EXPECT_EQ((ssize_t)n, pread(dfd, back, n, 0));
		EXPECT_EQ(0, check_words(back, n, 77));
		close(dfd);
		free(back);
	}
	unlink(path);
	drop_buffer(self);
	HPA_EXPECT_POOLS_BACK(self);
}

/* ---- io_uring fixed buffers ------------------------------------------------ */

/*
 * O_DIRECT READ_FIXED into a registered, THP-backed anonymous buffer: what
 * this kernel does with a large folio behind a fixed buffer, for comparison.
 */
static int thp_control(struct uring *u, int dfd, size_t n)
{
	char *raw = mmap(NULL, 2 * n, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *p;
	int ret;

	if (raw == MAP_FAILED)
		return -ENOMEM;
	p = (char *)(((uintptr_t)raw + n - 1) & ~(n - 1));
	madvise(p, n, MADV_HUGEPAGE);
	memset(p, 1, n);
	ret = uring_register_buf(u, p, n);
	if (!ret) {
		ret = uring_rw_fixed(u, IORING_OP_READ_FIXED, dfd, p, n, 0);
		uring_unregister_bufs(u);
	}
	munmap(raw, 2 * n);
	return ret;
}

/*
 * Register the buffer, read the file into it through the pin, then free
 * and unmap the buffer while it is still registered: the page must keep
 * what the kernel writes through the pin, no new buffer may get it, and
 * the pool gets it back only after the unregistration.
 */
TEST_F_TIMEOUT(pin, iouring_fixed_buffer, 90)
{
	size_t n = SZ_2M;
	uint64_t phys0;
	struct uring u;
	char *copy, *ubuf;
	int ret, dfd, tfd, bfd, thp_rc;
	char tpath[] = "/tmp/hpa-uring-XXXXXX";

	NEED_DISK();
	ret = uring_init(&u);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "io_uring not available: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	dfd = open(PATTERN, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, dfd);

	/* control: the same steps on anonymous memory must work */
	copy = mmap(NULL, n, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, copy);
	ASSERT_EQ(0, uring_register_buf(&u, copy, n));
	ASSERT_EQ((int)n, uring_rw_fixed(&u, IORING_OP_READ_FIXED, dfd, copy,
					 n, 0));
	ASSERT_EQ(0, check_pattern(copy, n, 0));
	ASSERT_EQ(0, uring_unregister_bufs(&u));
	munmap(copy, n);
	thp_rc = thp_control(&u, dfd, n);

	ret = uring_register_buf(&u, self->p, n);
	TH_LOG("IORING_REGISTER_BUFFERS of a %s buffer: %s", variant->k.name,
	       ret ? strerror(-ret) : "works");
	if (!pin_expected(&self->ver, &variant->k) || ret) {
		/*
		 * A clean refusal: EFAULT (GUP refused), or EOPNOTSUPP
		 * (before 6.5 io_uring takes no file-backed memory but
		 * shmem and hugetlbfs).
		 */
		EXPECT_TRUE(ret == -EFAULT || ret == -EOPNOTSUPP)
			TH_LOG("register: %d", ret);
		if (pin_expected(&self->ver, &variant->k)) {
			EXPECT_TRUE(hpa_kernel_before(6, 5) && ret == -EOPNOTSUPP)
				TH_LOG("pinnable pages refused: %d", ret);
		}
		uring_exit(&u);
		close(dfd);
		drop_buffer(self);
		HPA_EXPECT_POOLS_BACK(self);
		return;
	}

	/* buffered first (a memcpy into the pinned pages), then O_DIRECT */
	bfd = open(PATTERN, O_RDONLY);
	ASSERT_LE(0, bfd);
	ret = uring_rw_fixed(&u, IORING_OP_READ_FIXED, bfd, self->p, n, 0);
	ASSERT_EQ((int)n, ret) TH_LOG("buffered READ_FIXED: %d", ret);
	EXPECT_EQ(0, check_pattern(self->p, n, 0));
	memset(self->p, 0, n);
	ret = uring_rw_fixed(&u, IORING_OP_READ_FIXED, dfd, self->p, n, 0);
	TH_LOG("O_DIRECT READ_FIXED into the %s buffer: %s (THP control: %s)",
	       variant->k.name, ret == (int)n ? "works" : strerror(-ret),
	       thp_rc == (int)n ? "works" : strerror(-thp_rc));
	if (ret == -EFAULT && thp_rc == -EFAULT) {
		/* the kernel's limit for large folios, not hpalloc's */
	} else {
		EXPECT_EQ((int)n, ret);
		EXPECT_EQ(0, check_pattern(self->p, n, 0));
	}

	phys0 = hpa_buf_phys(self->fd, self->off, 0);
	ubuf = self->p;		/* still names the registered pages */
	drop_buffer(self);

	/* The kernel writes through the pin after the free... */
	ret = uring_rw_fixed(&u, IORING_OP_READ_FIXED, bfd, ubuf, n, SZ_2M);
	EXPECT_EQ((int)n, ret);
	close(bfd);
	/* ...no new owner gets the page, or sees those bytes... */
	EXPECT_EQ(0, pinned_page_not_reused(self->fd, self->nid, phys0))
		TH_LOG("1 = pinned page reused, 2 = new buffer not zero");
	/* ...and the page still holds them: it was not zeroed. */
	tfd = mkstemp(tpath);
	ASSERT_LE(0, tfd);
	ret = uring_rw_fixed(&u, IORING_OP_WRITE_FIXED, tfd, ubuf, n, 0);
	EXPECT_EQ((int)n, ret);
	copy = malloc(n);
	ASSERT_NE(NULL, copy);
	EXPECT_EQ((ssize_t)n, pread(tfd, copy, n, 0));
	EXPECT_EQ(0, check_pattern(copy, n, SZ_2M))
		TH_LOG("pinned page changed under the pin (zeroed?)");
	free(copy);
	close(tfd);
	unlink(tpath);

	EXPECT_EQ(0, uring_unregister_bufs(&u));
	uring_exit(&u);
	close(dfd);
	HPA_EXPECT_POOLS_BACK(self);
}

/* ---- vmsplice -------------------------------------------------------------- */

TEST_F(pin, vmsplice_holds_pages)
{
	size_t n = 64 << 10;
	struct iovec iov;
	uint64_t phys0;
	int pfd[2], i;
	ssize_t ret;
	char *back;

	ASSERT_EQ(0, pipe(pfd));
	fill_words(self->p, self->len, 5);
	iov.iov_base = self->p + SZ_2M - n / 2;	/* across the two pages */
	iov.iov_len = n;
	ret = vmsplice(pfd[1], &iov, 1, 0);
	TH_LOG("vmsplice from a %s buffer: %s", variant->k.name,
	       ret == (ssize_t)n ? "works" : strerror(errno));
	if (!pin_expected(&self->ver, &variant->k)) {
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EFAULT, errno);
		goto out;
	}
	ASSERT_EQ((ssize_t)n, ret);

	/* The pipe holds page references; free the buffer under it. */
	phys0 = hpa_buf_phys(self->fd, self->off, 0);
	drop_buffer(self);
	EXPECT_EQ(0, pinned_page_not_reused(self->fd, self->nid, phys0))
		TH_LOG("1 = referenced page reused, 2 = new buffer not zero");
	back = malloc(n);
	ASSERT_NE(NULL, back);
	for (i = 0; i < (int)n; i += ret) {
		ret = read(pfd[0], back + i, n - i);
		ASSERT_LT(0, ret);
	}
	EXPECT_EQ(0, check_words(back, n, 5 + (SZ_2M - n / 2) / 8))
		TH_LOG("the pipe's pages changed after the free (zeroed?)");
	free(back);
out:
	close(pfd[0]);
	close(pfd[1]);
	if (self->p != MAP_FAILED)
		drop_buffer(self);
	HPA_EXPECT_POOLS_BACK(self);
}

/* ---- process_vm_readv / writev -------------------------------------------- */

TEST_F(pin, process_vm_rw)
{
	size_t n = 256 << 10;
	int status, pfd[2], rfd[2], res = -1;
	struct iovec l, r;
	char *local, src[4096];
	pid_t pid;
	char c;

	fill_words(self->p, self->len, 9);
	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(0, pipe(rfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* a process without the mapping reads and writes it */
		ssize_t got;

		munmap(self->p, self->len);
		local = malloc(n);
		if (!local)
			_exit(100);
		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1)
			_exit(101);
		l.iov_base = local;
		l.iov_len = n;
		r.iov_base = self->p + SZ_2M - n / 2;
		r.iov_len = n;
		got = process_vm_readv(getppid(), &l, 1, &r, 1, 0);
		if (got == (ssize_t)n)
			res = check_words(local, n, 9 + (SZ_2M - n / 2) / 8) ?
				1 : 0;
		else if (got < 0 && errno == EFAULT)
			res = 2;
		else
			res = 3;
		if (res == 0) {
			fill_words(local, n, 10);
			got = process_vm_writev(getppid(), &l, 1, &r, 1, 0);
			if (got != (ssize_t)n)
				res = 4;
		}
		if (write(rfd[1], &res, sizeof(res)) != sizeof(res))
			_exit(102);
		_exit(0);
	}
	close(pfd[0]);
	close(rfd[1]);
	ASSERT_EQ(1, write(pfd[1], "g", 1));
	ASSERT_EQ(sizeof(res), read(rfd[0], &res, sizeof(res)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	TH_LOG("process_vm_readv/writev of a %s buffer: %s",
	       variant->k.name, res == 0 ? "works" : res == 2 ? "EFAULT" : "broken");
	if (pin_expected(&self->ver, &variant->k)) {
		EXPECT_EQ(0, res) TH_LOG("1 = wrong bytes read, 2 = EFAULT, "
					 "3 = other, 4 = writev");
		EXPECT_EQ(0, check_words(self->p + SZ_2M - n / 2, n, 10));
	} else {
		EXPECT_EQ(2, res);
	}
	/* A buffer as the local side is plain copy_to_user: always works. */
	l.iov_base = self->p;
	l.iov_len = sizeof(src);
	r.iov_base = src;
	r.iov_len = sizeof(src);
	memset(src, 0x3c, sizeof(src));
	EXPECT_EQ((ssize_t)sizeof(src),
		  process_vm_readv(getpid(), &l, 1, &r, 1, 0));
	EXPECT_EQ(0x3c, self->p[4095]);
	close(pfd[1]);
	close(rfd[0]);
	drop_buffer(self);
	HPA_EXPECT_POOLS_BACK(self);
}

/* ---- futexes ---------------------------------------------------------------- */

static long futex(uint32_t *uaddr, int op, uint32_t val,
		  const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

static void *futex_waiter(void *arg)
{
	uint32_t *w = arg;
	long ret;

	while (__atomic_load_n(w, __ATOMIC_ACQUIRE) == 0) {
		ret = futex(w, FUTEX_WAIT_PRIVATE, 0, NULL);
		if (ret && errno != EAGAIN && errno != EINTR)
			return (void *)(long)errno;
	}
	return NULL;
}

TEST_F(pin, futex_in_buffer)
{
	uint32_t *w = (uint32_t *)(self->p + SZ_2M + 64);
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 1000000 };
	pthread_t th;
	void *res;
	long ret;
	int i;

	/* private futex: keyed by address, no page lookup */
	*w = 0;
	ASSERT_EQ(0, pthread_create(&th, NULL, futex_waiter, w));
	usleep(20000);
	__atomic_store_n(w, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 100; i++)
		futex(w, FUTEX_WAKE_PRIVATE, 1, NULL);
	ASSERT_EQ(0, pthread_join(th, &res));
	EXPECT_EQ(NULL, res) TH_LOG("FUTEX_WAIT_PRIVATE: errno %ld",
				    (long)res);

	/*
	 * shared futex: keyed by the page's address_space, which buffer pages
	 * do not have: docs/device.md says EFAULT (not a hang, not a wrong
	 * key).
	 */
	*w = 2;
	ret = futex(w, FUTEX_WAIT, 3, &ts);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EFAULT, errno);
	ret = futex(w, FUTEX_WAIT, 2, &ts);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EFAULT, errno);
	drop_buffer(self);
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_HARNESS_MAIN
