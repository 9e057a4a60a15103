// SPDX-License-Identifier: GPL-2.0
/*
 * Escapes an adversarial test found in the module, one test each, so that
 * none comes back: the RLIMIT_MEMLOCK charge must outlive the process that
 * made a buffer (exit, exec); a failed ALLOC must undo only its own handle;
 * a mapping that could never be touched (huge pages disabled) is refused at
 * mmap time.  The 1 GiB mremap case is in hpalloc_lifecycle_test.c and the
 * unload race in zzz_unload_race_test.c.
 */
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "hpa_util.h"
#include "hpa_test_pool.h"

#define NOBODY		65534
#define LIMIT_8M	(8UL << 20)
#define EXEC_ENV	"HPA_ESCAPE_EXEC_FD"

/*
 * The image a child execs for memlock_follows_buffer_across_exec: it
 * inherits an open file holding 8 MiB charged to its user, and asks for
 * 8 MiB more under the same 8 MiB limit.  Exit 0 when refused as it must be.
 */
__attribute__((constructor)) static void exec_image(void)
{
	const char *env = getenv(EXEC_ENV);
	uint64_t off;
	int ret;

	if (!env)
		return;
	ret = dev_alloc(atoi(env), LIMIT_8M, 0, &off);
	_exit(ret == -ENOMEM ? 0 : ret ? 2 : 1);
}

/* Become nobody, with no capabilities and an 8 MiB RLIMIT_MEMLOCK. */
static int become_limited_nobody(void)
{
	struct rlimit rl = { LIMIT_8M, LIMIT_8M };

	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return -1;
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		return -1;
	return 0;
}

FIXTURE(esc) {
	int fd;
	struct hpa_pools pools0;
	bool have_pools;
};

FIXTURE_SETUP(esc)
{
	self->fd = open(HPALLOC_DEVICE, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/hpalloc is missing: module not loaded");
	ASSERT_LE(0, self->fd) TH_LOG("open: %s", strerror(errno));
	HPA_POOLS_SNAPSHOT(self);
	ASSERT_TRUE(self->have_pools);
}

FIXTURE_TEARDOWN(esc)
{
	if (self->fd >= 0)
		close(self->fd);
}

static int child_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/*
 * Six children of one process each ALLOC 8 MiB from a shared open file and
 * exit, leaving the buffers to the parent: the first fits the 8 MiB limit,
 * the others must not.  The charge used to die with each child.
 */
TEST_F_TIMEOUT(esc, memlock_follows_buffer_after_exit, 120)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		int i, got = 0, refused = 0;
		uint64_t off;

		if (become_limited_nobody())
			_exit(10);
		for (i = 0; i < 6; i++) {
			pid_t c = fork();

			if (c < 0)
				_exit(11);
			if (c == 0) {
				int ret = dev_alloc(self->fd, LIMIT_8M, 0, &off);

				_exit(ret == 0 ? 0 : ret == -ENOMEM ? 1 : 2);
			}
			switch (child_status(c)) {
			case 0:
				got++;
				break;
			case 1:
				refused++;
				break;
			default:
				_exit(12);
			}
		}
		if (got != 1 || refused != 5)
			_exit(20 + got);
		/* the one that fit is handle 1; freeing it frees the charge */
		if (dev_free(self->fd, 1ULL << HPALLOC_HANDLE_SHIFT))
			_exit(13);
		if (dev_alloc(self->fd, LIMIT_8M, 0, &off))
			_exit(14);
		_exit(0);
	}
	EXPECT_EQ(0, child_status(pid))
		TH_LOG("exit codes: 20+n = n children got 8 MiB each under an 8 MiB limit");
	close(self->fd);
	self->fd = -1;
	HPA_EXPECT_POOLS_BACK(self);
}

/* A process holding 8 MiB execs with the file kept open: no second 8 MiB. */
TEST_F_TIMEOUT(esc, memlock_follows_buffer_across_exec, 120)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		char env[64];
		char *argv[] = { "hpalloc_escape_test", NULL };
		char *envp[] = { env, NULL };
		uint64_t off;
		int fd = dup(self->fd);	/* without O_CLOEXEC */

		if (fd < 0 || become_limited_nobody())
			_exit(10);
		if (dev_alloc(fd, LIMIT_8M, 0, &off))
			_exit(11);
		snprintf(env, sizeof(env), EXEC_ENV "=%d", fd);
		execve("/proc/self/exe", argv, envp);
		_exit(12);
	}
	EXPECT_EQ(0, child_status(pid))
		TH_LOG("1: the exec'd image got another 8 MiB over the limit");
	close(self->fd);
	self->fd = -1;
	HPA_EXPECT_POOLS_BACK(self);
}

struct stalled_alloc {
	int fd;
	void *arg;
	int ret;
};

static void *stalled_alloc_thread(void *p)
{
	struct stalled_alloc *s = p;

	s->ret = hpa_ioctl(s->fd, HPALLOC_IOC_ALLOC, s->arg);
	return NULL;
}

/*
 * ALLOC's answer cannot be written back (its struct is on a page that
 * userfaultfd holds write-protected) while another thread frees "its"
 * handle and allocates again.  The handle is not visible before the answer
 * is written, so the free finds nothing, and the ALLOC's undo after EFAULT
 * takes its own buffer only: the other one stays.
 */
TEST_F_TIMEOUT(esc, failed_alloc_undoes_only_its_own_handle, 60)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP,
	};
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	struct stalled_alloc s = { .fd = self->fd };
	struct pollfd pfd;
	struct uffd_msg msg;
	struct hpalloc_alloc *a;
	pthread_t th;
	uint64_t other;
	long psz = sysconf(_SC_PAGESIZE);
	void *page;
	int uffd;

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		SKIP(return, "no userfaultfd: %s", strerror(errno));
	if (ioctl(uffd, UFFDIO_API, &api) ||
	    !(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP)) {
		close(uffd);
		SKIP(return, "no userfaultfd write-protect");
	}
	page = mmap(NULL, psz, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	a = page;
	memset(a, 0, sizeof(*a));
	a->size = SZ_2M;
	reg.range.start = wp.range.start = (uintptr_t)page;
	reg.range.len = wp.range.len = psz;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_WRITEPROTECT, &wp));

	s.arg = page;
	ASSERT_EQ(0, pthread_create(&th, NULL, stalled_alloc_thread, &s));
	pfd.fd = uffd;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 20000)) TH_LOG("ALLOC never stalled");
	ASSERT_EQ(sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);

	/* the stalled ALLOC made handle 1 of this fresh file */
	EXPECT_EQ(-ENOENT, dev_free(self->fd, 1ULL << HPALLOC_HANDLE_SHIFT));
	EXPECT_EQ(-ENOENT, hpa_query(self->fd, 1ULL << HPALLOC_HANDLE_SHIFT,
				     0, NULL, 0, NULL));
	ASSERT_EQ(0, dev_alloc(self->fd, SZ_2M, 0, &other));

	/* let the copy fail: the page goes, the retried fault finds nothing */
	ASSERT_EQ(0, munmap(page, psz));
	close(uffd);
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(-EFAULT, s.ret);

	EXPECT_EQ(0, hpa_query(self->fd, other, 0, NULL, 0, NULL))
		TH_LOG("the failed ALLOC's undo removed another buffer's handle");
	EXPECT_EQ(0, dev_free(self->fd, other));
	EXPECT_EQ(-ENOENT, dev_free(self->fd, 1ULL << HPALLOC_HANDLE_SHIFT));
	HPA_EXPECT_POOLS_BACK(self);
}

/*
 * From 6.7 MAP_STACK sets VM_NOHUGEPAGE, and the kernel never calls the
 * huge fault handler for such a vma: refused at mmap.  Before 6.7 the flag
 * does nothing and the mapping works.
 */
TEST_F(esc, map_stack)
{
	long f0;
	char *p = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_STACK, self->fd, 0);

	if (hpa_kernel_before(6, 7)) {
		ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
		f0 = hpa_minflt();
		p[0] = 1;
		p[SZ_2M - 1] = 1;
		EXPECT_EQ(1, hpa_minflt() - f0);
		EXPECT_EQ(0, munmap(p, SZ_2M));
	} else {
		EXPECT_EQ(MAP_FAILED, p);
		EXPECT_EQ(EINVAL, errno);
		if (p != MAP_FAILED)
			munmap(p, SZ_2M);
	}
	HPA_EXPECT_POOLS_BACK(self);
}

/* PR_SET_THP_DISABLE: no huge fault for any vma of the process. */
TEST_F(esc, thp_disabled_process)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		void *p;

		if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
			_exit(10);
		p = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd, 0);
		if (p != MAP_FAILED)
			_exit(1);
		_exit(errno == EINVAL ? 0 : 2);
	}
	EXPECT_EQ(0, child_status(pid))
		TH_LOG("1: mmap worked although no touch of it could");
	HPA_EXPECT_POOLS_BACK(self);
}

TEST_HARNESS_MAIN
