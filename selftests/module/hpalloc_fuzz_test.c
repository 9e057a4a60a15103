// SPDX-License-Identifier: GPL-2.0
/*
 * A sequence fuzzer for /dev/hpalloc: several processes, each with several
 * threads, run random sequences of open/close, ALLOC/FREE/QUERY with good
 * and bad arguments, mmap/unmap/mremap/mprotect/madvise, touches, fork
 * (children that run their own sequence and exit or are killed), exec with
 * the file inherited, and sysfs pool resizes, racing each other on shared
 * files and handles.  Afterwards every pool, the RLIMIT_MEMLOCK charge and
 * the system's free memory must be where they were, and every page a
 * buffer showed for the first time must have been zero.
 *
 * The seed and the number of operations are printed; HPA_FUZZ_SEED and
 * HPA_FUZZ_OPS (in the environment, or /etc/hpa-fuzz in the guest) replay a
 * run or make a longer one.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "hpa_util.h"
#include "hpa_test_pool.h"

#define NR_PROCS	3
#define NR_THREADS	2
#define NR_SLOTS	8		/* mapping slots per process */
#define NR_HANDLES	16		/* remembered handles per process */
#define NR_CHILD_OPS	40
#define MEMLOCK_LIMIT	(64UL << 20)
#define EXEC_ENV	"HPA_FUZZ_EXEC"

enum op {
	OP_ALLOC, OP_FREE, OP_QUERY, OP_BAD_IOCTL, OP_MMAP, OP_UNMAP,
	OP_MPROTECT, OP_MADVISE, OP_TOUCH, OP_REOPEN, OP_FORK, OP_EXEC,
	OP_SYSFS, OP_MREMAP, OP_MUNMAP, NR_OPS
};

static const char *const op_name[NR_OPS] = {
	"alloc", "free", "query", "bad_ioctl", "mmap", "unmap", "mprotect",
	"madvise", "touch", "reopen", "fork", "exec", "sysfs", "mremap",
	"munmap",
};

/* Relative weights of the threads' operations (process-only ops last). */
static const int op_weight[NR_OPS] = {
	[OP_ALLOC] = 12, [OP_FREE] = 10, [OP_QUERY] = 10, [OP_BAD_IOCTL] = 6,
	[OP_MMAP] = 14, [OP_UNMAP] = 10, [OP_MPROTECT] = 4, [OP_MADVISE] = 4,
	[OP_TOUCH] = 20, [OP_REOPEN] = 2, [OP_FORK] = 1, [OP_EXEC] = 0,
	[OP_SYSFS] = 1,
};

/* One worker process: its file, handles and mapping slots. */
struct proc {
	pthread_mutex_t lock;
	int fd;				/* replaced with dup2, never closed */
	uint64_t handle[NR_HANDLES];	/* 0: none */
	char *area;			/* NR_SLOTS * SZ_2M, aligned */
	int slot_pages[NR_SLOTS];	/* 2 MiB pages mapped there, 0: none */
	long counts[NR_OPS];
	long zero_violations;
	char zero_why[96];
	long unexpected;		/* calls that failed the wrong way */
	char why[160];
};

static struct proc *P;
static __thread sigjmp_buf touch_jmp;
static __thread volatile int in_touch;
static __thread volatile int cur_op = -1;
/*
 * Where a thread looks at its fresh buffers: a reservation of its own.  Not
 * an address the kernel picks: a MAP_FIXED mmap that fails leaves a hole in
 * a slot for a moment, the kernel may put a new mapping there, and the
 * slot's owner then replaces or touches it.
 */
#define FRESH_PAGES	3
static __thread char *fresh_area;

/*
 * *P's lock is shared with forked children, which may be SIGKILLed holding
 * it: a robust mutex hands it to the next locker, who makes it usable.
 */
static void plock(void)
{
	if (pthread_mutex_lock(&P->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&P->lock);
}

static void punlock(void)
{
	pthread_mutex_unlock(&P->lock);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	char msg[128];
	int n;

	(void)uc;
	if (in_touch)
		siglongjmp(touch_jmp, sig);
	/* a fault outside a touch is a bug: say where before dying */
	n = snprintf(msg, sizeof(msg), "# fuzz: signal %d at %p during %s\n",
		     sig, si->si_addr, cur_op >= 0 && cur_op < NR_OPS ?
		     op_name[cur_op] : "?");
	if (write(2, msg, n) < 0)
		n = 0;
	signal(sig, SIG_DFL);
	raise(sig);
}

static void catch_faults(void)
{
	struct sigaction sa = { .sa_sigaction = on_fault,
				.sa_flags = SA_SIGINFO };

	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

static void note_unexpected(const char *what, int ret)
{
	plock();
	if (!P->unexpected++)
		snprintf(P->why, sizeof(P->why), "%s: %s", what,
			 strerror(ret < 0 ? -ret : ret));
	punlock();
}

/* Errors a call may give when another thread races it or input is bad. */
static bool ok_err(int ret)
{
	switch (-ret) {
	case 0: case EINVAL: case ENOENT: case ENXIO: case ENOMEM: case EBADF:
	case ENOTTY: case EFAULT: case EPERM: case E2BIG: case ENODEV:
	case EACCES: case EINTR: case ENOSPC:
		return true;
	}
	return false;
}

static uint64_t pick_handle(uint64_t *s)
{
	uint64_t h;

	plock();
	h = P->handle[rnd(s) % NR_HANDLES];
	punlock();
	/* now and then a bogus one: never a real id, which a fresh buffer
	 * being checked for zeroes could have */
	if (!h || !(rnd(s) % 16))
		h = ((1 << 20) + rnd(s) % 32) << HPALLOC_HANDLE_SHIFT |
		    (rnd(s) % 4 ? 0 : rnd(s) % 4096);
	return h;
}

static void remember(uint64_t h, uint64_t *s)
{
	plock();
	P->handle[rnd(s) % NR_HANDLES] = h;
	punlock();
}

/* Replace a slot with the reservation: atomic, no hole another mmap takes. */
static void slot_reserve(char *at, size_t len)
{
	mmap(at, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
	     MAP_NORESERVE, -1, 0);
}

/*
 * Every 2 MiB page of a fresh buffer must read zero.  It is mapped where
 * no other thread maps anything (the kernel's choice, not a slot), and
 * before its handle is in the table, so nobody else has touched it.
 */
static void check_fresh(uint64_t off, int pages)
{
	size_t len = (size_t)pages * SZ_2M;
	uint64_t *w;
	size_t i, j;

	if (!fresh_area || pages > FRESH_PAGES)
		return;
	w = mmap(fresh_area, len, PROT_READ, MAP_SHARED | MAP_FIXED, P->fd,
		 off);
	if (w != (uint64_t *)fresh_area) {
		/* the file was replaced meanwhile */
		slot_reserve(fresh_area, len);
		return;
	}
	for (i = 0; i < len / 8; i += 512) {
		for (j = 0; j < 512; j += 511) {
			if (!w[i + j])
				continue;
			plock();
			if (!P->zero_violations++)
				snprintf(P->zero_why, sizeof(P->zero_why),
					 "word %zu of a fresh %d-page buffer: %#llx",
					 i + j, pages,
					 (unsigned long long)w[i + j]);
			punlock();
			i = len;
			break;
		}
	}
	slot_reserve(fresh_area, len);
}

/* This thread's fresh_area, 2 MiB aligned. */
static int make_fresh_area(void)
{
	char *p = mmap(NULL, (FRESH_PAGES + 1) * SZ_2M, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	fresh_area = (char *)(((uintptr_t)p + SZ_2M - 1) & ~(SZ_2M - 1));
	return 0;
}

static void op_alloc(uint64_t *s)
{
	int pages = 1 + rnd(s) % 3, ret, slot = rnd(s) % NR_SLOTS;
	struct hpalloc_alloc a = {
		.size = (uint64_t)pages * SZ_2M - (rnd(s) % 2 ? 4096 : 0),
		.flags = rnd(s) % 8 ? 0 : HPALLOC_ALLOC_CONTIG,
		.policy = rnd(s) % 4,
	};
	char *want, *p;

	if (a.policy != HPALLOC_POLICY_LOCAL)
		a.nodemask = 1 + rnd(s) % 7;	/* maybe nodes without memory */
	if (!(rnd(s) % 20))
		a.flags |= 1U << (rnd(s) % 32);	/* an unknown flag */
	ret = hpa_ioctl(P->fd, HPALLOC_IOC_ALLOC, &a);
	if (!ok_err(ret))
		note_unexpected("ALLOC", ret);
	if (ret)
		return;
	check_fresh(a.offset, a.nr_pages);
	want = P->area + (size_t)slot * SZ_2M;
	if (slot + pages <= NR_SLOTS && !(rnd(s) % 2)) {
		p = mmap(want, (size_t)pages * SZ_2M, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, P->fd, a.offset);
		plock();
		if (p == want)
			P->slot_pages[slot] = pages;
		punlock();
		if (p != want)
			slot_reserve(want, (size_t)pages * SZ_2M);
	}
	remember(a.offset, s);
}

static void op_free(uint64_t *s)
{
	int ret = dev_free(P->fd, pick_handle(s));

	if (!ok_err(ret))
		note_unexpected("FREE", ret);
}

static void op_query(uint64_t *s)
{
	struct hpalloc_page_info pi[4];
	int ret = hpa_query(P->fd, pick_handle(s),
			    rnd(s) % 4 ? 0 : HPALLOC_QUERY_PHYS, pi,
			    rnd(s) % 5, NULL);

	if (!ok_err(ret))
		note_unexpected("QUERY", ret);
}

static void op_bad_ioctl(uint64_t *s)
{
	char buf[256];
	unsigned int nr = rnd(s) % 8, size = rnd(s) % sizeof(buf);
	unsigned long cmd;
	int ret, i;

	for (i = 0; i < (int)sizeof(buf); i++)
		buf[i] = rnd(s) % 3 ? 0 : rnd(s);
	cmd = _IOC(rnd(s) % 4, HPALLOC_IOC_MAGIC, nr, size);
	/* a buffer a lucky one makes goes with the file */
	ret = hpa_ioctl(P->fd, cmd, rnd(s) % 8 ? buf : (void *)16);
	if (!ok_err(ret))
		note_unexpected("bad ioctl", ret);
}

static void op_mmap(uint64_t *s)
{
	int slot = rnd(s) % NR_SLOTS, pages = 1 + rnd(s) % 2;
	char *want = P->area + (size_t)slot * SZ_2M, *p;
	uint64_t off = rnd(s) % 6 ? pick_handle(s) : 0;
	int prot = rnd(s) % 6 ? PROT_READ | PROT_WRITE : PROT_READ;

	if (slot + pages > NR_SLOTS)
		pages = 1;
	if (!(rnd(s) % 10))
		off += SZ_2M;			/* the second page, if any */
	p = mmap(want, (size_t)pages * SZ_2M, prot,
		 (rnd(s) % 20 ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED,
		 P->fd, off);
	plock();
	if (p == want)
		P->slot_pages[slot] = pages;
	punlock();
	/* a failed MAP_FIXED mmap may have unmapped the slot: reserve it */
	if (p != want)
		slot_reserve(want, (size_t)pages * SZ_2M);
}

static void op_unmap(uint64_t *s)
{
	int slot = rnd(s) % NR_SLOTS;

	slot_reserve(P->area + (size_t)slot * SZ_2M, SZ_2M);
	plock();
	P->slot_pages[slot] = 0;
	punlock();
}

static void op_mprotect(uint64_t *s)
{
	int slot = rnd(s) % NR_SLOTS;
	static const int prots[] = { PROT_NONE, PROT_READ,
				     PROT_READ | PROT_WRITE, PROT_EXEC };

	mprotect(P->area + (size_t)slot * SZ_2M,
		 rnd(s) % 8 ? SZ_2M : 4096, prots[rnd(s) % 4]);
}

static void op_madvise(uint64_t *s)
{
	static const int advs[] = { MADV_DONTNEED, MADV_WILLNEED,
				    MADV_NORMAL, MADV_RANDOM, MADV_DONTFORK,
				    MADV_DOFORK, MADV_NOHUGEPAGE,
				    MADV_HUGEPAGE };
	int slot = rnd(s) % NR_SLOTS;

	madvise(P->area + (size_t)slot * SZ_2M, rnd(s) % 8 ? SZ_2M : 4096,
		advs[rnd(s) % 8]);
}

static void op_touch(uint64_t *s)
{
	int slot = rnd(s) % NR_SLOTS;
	volatile uint64_t *w = (uint64_t *)(P->area + (size_t)slot * SZ_2M +
					    (rnd(s) % (SZ_2M / 8)) * 8);

	in_touch = 1;
	if (!sigsetjmp(touch_jmp, 1)) {
		uint64_t v = *w;

		if (rnd(s) % 2)
			*w = v + 1;
	}
	in_touch = 0;
}

static void op_reopen(uint64_t *s)
{
	int fd = open(rnd(s) % 8 ? HPALLOC_DEVICE : "/dev/null",
		      O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	/* atomically: a racing call sees the old file or the new one */
	dup3(fd, P->fd, O_CLOEXEC);
	close(fd);
	plock();
	memset(P->handle, 0, sizeof(P->handle));
	punlock();
}

static void op_sysfs(uint64_t *s)
{
	hpa_pool_write(rnd(s) % 3, 0, "target", rnd(s) % 6);
}

/* One short sequence, single-threaded: real munmap and mremap are safe. */
static void child_sequence(uint64_t seed)
{
	uint64_t s = seed | 1;
	int i;

	for (i = 0; i < NR_CHILD_OPS; i++) {
		int slot = rnd(&s) % NR_SLOTS;
		char *at = P->area + (size_t)slot * SZ_2M;

		int op;

		switch (rnd(&s) % 10) {
		case 0:
			munmap(at, SZ_2M);
			op = OP_MUNMAP;
			break;
		case 1:
			mremap(at, SZ_2M, SZ_2M, MREMAP_MAYMOVE | MREMAP_FIXED,
			       P->area + (size_t)(rnd(&s) % NR_SLOTS) * SZ_2M);
			op = OP_MREMAP;
			break;
		case 2:
			op_alloc(&s);
			op = OP_ALLOC;
			break;
		case 3:
			op_free(&s);
			op = OP_FREE;
			break;
		case 4:
			op_mmap(&s);
			op = OP_MMAP;
			break;
		default:
			op_touch(&s);
			op = OP_TOUCH;
			break;
		}
		/* *P is shared with the worker (not after exec) */
		plock();
		P->counts[op]++;
		punlock();
	}
}

static void op_fork(uint64_t *s)
{
	uint64_t seed = rnd(s);
	pid_t pid = fork();

	if (pid < 0)
		return;
	if (pid == 0) {
		child_sequence(seed);
		_exit(0);
	}
	if (rnd(s) % 3 == 0) {
		usleep(rnd(s) % 2000);
		kill(pid, SIGKILL);
	}
	waitpid(pid, NULL, 0);
}

static void op_exec(uint64_t *s)
{
	pid_t pid = fork();

	if (pid < 0)
		return;
	if (pid == 0) {
		char env[64];
		char *argv[] = { "hpalloc_fuzz_test", NULL };
		char *envp[] = { env, NULL };
		int fd = dup(P->fd);	/* inherited across exec */

		snprintf(env, sizeof(env), EXEC_ENV "=%d:%llu", fd,
			 (unsigned long long)rnd(s));
		execve("/proc/self/exe", argv, envp);
		_exit(1);
	}
	waitpid(pid, NULL, 0);
}

/* The exec'd image: a few operations on the inherited file, then exit. */
__attribute__((constructor)) static void exec_image(void)
{
	const char *env = getenv(EXEC_ENV);
	unsigned long long seed;
	int fd;

	if (!env || sscanf(env, "%d:%llu", &fd, &seed) != 2)
		return;
	P = mmap(NULL, sizeof(*P), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (P == MAP_FAILED)
		_exit(1);
	memset(P, 0, sizeof(*P));
	pthread_mutex_init(&P->lock, NULL);
	P->fd = fd;
	P->area = mmap(NULL, (NR_SLOTS + 1) * SZ_2M, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	P->area = (char *)(((uintptr_t)P->area + SZ_2M - 1) & ~(SZ_2M - 1));
	catch_faults();
	if (make_fresh_area())
		_exit(1);
	child_sequence(seed);
	_exit(0);
}

struct thread_arg {
	uint64_t seed;
	long ops;
};

static void *worker_thread(void *p)
{
	struct thread_arg *t = p;
	uint64_t s = t->seed | 1;
	int total = 0, i;
	long n;

	if (make_fresh_area())
		return NULL;
	for (i = 0; i < NR_OPS; i++)
		total += op_weight[i];
	for (n = 0; n < t->ops; n++) {
		int r = rnd(&s) % total, op = 0;

		while (r >= op_weight[op])
			r -= op_weight[op++];
		if (op == OP_FORK && !(rnd(&s) % 8))
			op = OP_EXEC;
		cur_op = op;
		switch (op) {
		case OP_ALLOC: op_alloc(&s); break;
		case OP_FREE: op_free(&s); break;
		case OP_QUERY: op_query(&s); break;
		case OP_BAD_IOCTL: op_bad_ioctl(&s); break;
		case OP_MMAP: op_mmap(&s); break;
		case OP_UNMAP: op_unmap(&s); break;
		case OP_MPROTECT: op_mprotect(&s); break;
		case OP_MADVISE: op_madvise(&s); break;
		case OP_TOUCH: op_touch(&s); break;
		case OP_REOPEN: op_reopen(&s); break;
		case OP_FORK: op_fork(&s); break;
		case OP_EXEC: op_exec(&s); break;
		case OP_SYSFS: op_sysfs(&s); break;
		}
		plock();
		P->counts[op]++;
		punlock();
	}
	return NULL;
}

/* A worker process: its file, its threads; it reports through *P. */
static void worker(uint64_t seed, long ops)
{
	struct thread_arg t[NR_THREADS];
	pthread_t th[NR_THREADS];
	struct rlimit rl = { MEMLOCK_LIMIT, MEMLOCK_LIMIT };
	void *area;
	int i;

	/* root for the sysfs writes, but charged for every buffer */
	if (setrlimit(RLIMIT_MEMLOCK, &rl) || hpa_drop_cap(CAP_IPC_LOCK))
		_exit(10);
	P->fd = open(HPALLOC_DEVICE, O_RDWR | O_CLOEXEC);
	if (P->fd < 0)
		_exit(11);
	area = mmap(NULL, (NR_SLOTS + 1) * SZ_2M, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		_exit(12);
	P->area = (char *)(((uintptr_t)area + SZ_2M - 1) & ~(SZ_2M - 1));
	catch_faults();
	for (i = 0; i < NR_THREADS; i++) {
		t[i].seed = seed * 1000003 + i;
		t[i].ops = ops / NR_THREADS;
		if (pthread_create(&th[i], NULL, worker_thread, &t[i]))
			_exit(13);
	}
	for (i = 0; i < NR_THREADS; i++)
		pthread_join(th[i], NULL);
	_exit(0);
}

static long env_or_file(const char *name, long def)
{
	char line[128], key[64];
	long v;
	const char *e = getenv(name);
	FILE *f;

	if (e)
		return strtol(e, NULL, 0);
	f = fopen("/etc/hpa-fuzz", "r");
	if (!f)
		return def;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63[^=]=%li", key, &v) == 2 &&
		    !strcmp(key, name))
			def = v;
	fclose(f);
	return def;
}

FIXTURE(fuzz) {
	int fd;
	struct hpa_pools pools0;
	bool have_pools;
	long target0[3], min0[3];
};

FIXTURE_SETUP(fuzz)
{
	int nid;

	self->fd = open(HPALLOC_DEVICE, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/hpalloc is missing: module not loaded");
	ASSERT_LE(0, self->fd);
	for (nid = 0; nid < 3; nid++) {
		self->target0[nid] = hpa_pool_read(nid, 0, "target");
		self->min0[nid] = hpa_pool_read(nid, 0, "min");
	}
	HPA_POOLS_SNAPSHOT(self);
	ASSERT_TRUE(self->have_pools);
}

FIXTURE_TEARDOWN(fuzz)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F_TIMEOUT(fuzz, random_sequences_leave_nothing_behind, 900)
{
	uint64_t seed = env_or_file("HPA_FUZZ_SEED", 0x5eed2026);
	long ops = env_or_file("HPA_FUZZ_OPS", 100000);
	struct proc *procs;
	long counts[NR_OPS] = { 0 }, total = 0, before, after;
	struct rlimit rl = { MEMLOCK_LIMIT, MEMLOCK_LIMIT };
	char line[512];
	int i, nid, len = 0, st;
	pid_t pid[NR_PROCS];
	uint64_t off;

	TH_LOG("seed %#llx, %ld operations (HPA_FUZZ_SEED, HPA_FUZZ_OPS)",
	       (unsigned long long)seed, ops);
	before = hpa_mem_kb();
	procs = mmap(NULL, NR_PROCS * sizeof(*procs), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, procs);
	for (i = 0; i < NR_PROCS; i++) {
		pthread_mutexattr_t ma;

		memset(&procs[i], 0, sizeof(procs[i]));
		pthread_mutexattr_init(&ma);
		pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
		pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
		pthread_mutex_init(&procs[i].lock, &ma);
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (pid[i] == 0) {
			P = &procs[i];
			worker(seed + i, ops / NR_PROCS);
		}
	}
	for (i = 0; i < NR_PROCS; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &st, 0));
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
			TH_LOG("worker %d: status %#x", i, st);
	}
	for (i = 0; i < NR_PROCS; i++) {
		int op;

		for (op = 0; op < NR_OPS; op++)
			counts[op] += procs[i].counts[op];
		EXPECT_EQ(0, procs[i].zero_violations)
			TH_LOG("worker %d saw a fresh page that was not zero: %s",
			       i, procs[i].zero_why);
		EXPECT_EQ(0, procs[i].unexpected)
			TH_LOG("worker %d: %ld unexpected errors, first %s", i,
			       procs[i].unexpected, procs[i].why);
	}
	for (i = 0; i < NR_OPS; i++) {
		total += counts[i];
		len += snprintf(line + len, sizeof(line) - len, " %s=%ld",
				op_name[i], counts[i]);
	}
	TH_LOG("%ld operations (with the forked children's):%s", total, line);
	EXPECT_LE(ops - NR_PROCS * NR_THREADS, total);

	/* put the pools' targets back where the sysfs ops found them */
	for (nid = 0; nid < 3; nid++) {
		if (self->target0[nid] < 0)
			continue;
		hpa_pool_write(nid, 0, "min", self->min0[nid]);
		hpa_pool_write(nid, 0, "target", self->target0[nid]);
	}
	HPA_EXPECT_POOLS_BACK(self);
	after = hpa_mem_kb();
	TH_LOG("free memory: %ld kB before, %ld kB after", before, after);
	EXPECT_GT(2048, before - after);

	/* every charge went with its buffer: the whole limit is there again */
	pid[0] = fork();
	ASSERT_LE(0, pid[0]);
	if (pid[0] == 0) {
		if (setrlimit(RLIMIT_MEMLOCK, &rl) ||
		    hpa_drop_cap(CAP_IPC_LOCK))
			_exit(1);
		_exit(dev_alloc(self->fd, MEMLOCK_LIMIT, 0, &off) ? 2 : 0);
	}
	ASSERT_EQ(pid[0], waitpid(pid[0], &st, 0));
	EXPECT_EQ(0, WEXITSTATUS(st)) TH_LOG("memlock charge left behind");
	munmap(procs, NR_PROCS * sizeof(*procs));
}

TEST_HARNESS_MAIN
