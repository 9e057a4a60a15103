// SPDX-License-Identifier: GPL-2.0
/*
 * Randomized model test: threads run long random sequences of malloc,
 * calloc, realloc, aligned allocs and free, handing blocks to each other
 * to be freed remotely.  Every block carries a pattern derived from its
 * tag; the model (slot table: size, alignment, tag) is checked against the
 * memory on every free and realloc, so overlapping blocks, lost contents
 * and bad alignment are caught.  HPA_TEST_SEED and HPA_TEST_OPS override
 * the seed and the operations per thread.
 */
#include <pthread.h>

#include "hpa_test.h"

#define THREADS		4
#define SLOTS		512
#define MAILBOX		64

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DEFAULT_OPS	15000
#elif defined(MODEL_FAKE)
#define DEFAULT_OPS	40000
#else
#define DEFAULT_OPS	HPA_GUEST_SCALE(120000, 1500)
#endif

struct slot {
	unsigned char *p;
	size_t size;
	uint32_t tag;
};

struct header {		/* first bytes of every block of 16+ bytes */
	uint64_t size;
	uint32_t tag;
	uint32_t check;
};

static _Atomic(uintptr_t) mailbox[MAILBOX];
static unsigned long seed;
static long ops_per_thread;

static unsigned char pattern(uint32_t tag, size_t i)
{
	return (unsigned char)(tag * 131 + i * 7 + (i >> 12));
}

static void fill(unsigned char *p, size_t size, uint32_t tag)
{
	size_t i, step = size > 65536 ? 4093 : 1;

	for (i = 0; i < size; i += step)
		p[i] = pattern(tag, i);
	if (size)
		p[size - 1] = pattern(tag, size - 1);
	if (size >= sizeof(struct header)) {
		struct header h = { size, tag, tag ^ 0x5a5a5a5a };

		memcpy(p, &h, sizeof(h));
	}
}

/* 0 when p holds what fill(p, size, tag) wrote (first n bytes). */
static long verify(const unsigned char *p, size_t size, uint32_t tag,
		   size_t n)
{
	size_t i, step = size > 65536 ? 4093 : 1,
	       start = size >= sizeof(struct header) ? sizeof(struct header) : 0;

	for (i = 0; i < n; i += step)
		if (i >= start && p[i] != pattern(tag, i))
			return (long)i + 1;
	if (n == size && size && size - 1 >= start &&
	    p[size - 1] != pattern(tag, size - 1))
		return (long)size;
	return 0;
}

static size_t random_size(uint64_t *r)
{
	unsigned int k = hpa_test_rand(r) % 1000;

	if (k < 700)
		return hpa_test_rand(r) % 257;
	if (k < 920)
		return 257 + hpa_test_rand(r) % 16000;
	if (k < 990)
		return 16384 + hpa_test_rand(r) % (1 << 20);
	return (1 << 20) + hpa_test_rand(r) % (6 << 20);
}

struct worker {
	int id;
	long failures;
	char why[200];
};

#define FAIL(w, ...) do { \
	if (!(w)->failures++) \
		snprintf((w)->why, sizeof((w)->why), __VA_ARGS__); \
} while (0)

static void release(struct worker *w, struct slot *s)
{
	long bad = verify(s->p, s->size, s->tag, s->size);

	if (bad)
		FAIL(w, "block %p size %zu tag %u: byte %ld changed", s->p,
		     s->size, s->tag, bad - 1);
	hpa_free(s->p);
	s->p = NULL;
}

static void take_from_mailbox(struct worker *w, uintptr_t v)
{
	struct header h;
	struct slot s;

	if (!v)
		return;
	memcpy(&h, (void *)v, sizeof(h));
	if (h.check != (h.tag ^ 0x5a5a5a5a)) {
		FAIL(w, "handed-over block %p: header corrupt", (void *)v);
		return;
	}
	s.p = (unsigned char *)v;
	s.size = h.size;
	s.tag = h.tag;
	release(w, &s);
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	struct slot slots[SLOTS] = { 0 };
	uint64_t r = seed * 2654435761u + (uint64_t)w->id * 97 + 1;
	uint32_t tag = (uint32_t)w->id << 24;
	long op;
	int i;

	for (op = 0; op < ops_per_thread; op++) {
		struct slot *s = &slots[hpa_test_rand(&r) % SLOTS];
		unsigned int what = hpa_test_rand(&r) % 100;

		if (s->p && what < 45) {
			release(w, s);
		} else if (s->p && what < 60) {
			size_t nsize = random_size(&r), keep;
			unsigned char *q = hpa_realloc(s->p, nsize);

			if (!q && nsize) {
				FAIL(w, "realloc(%zu) failed: %d", nsize, errno);
				continue;
			}
			keep = nsize < s->size ? nsize : s->size;
			if (keep >= sizeof(struct header) &&
			    verify(q, s->size, s->tag, keep))
				FAIL(w, "realloc %zu -> %zu lost contents",
				     s->size, nsize);
			s->p = q;
			s->size = nsize;
			s->tag = ++tag;
			if (q)
				fill(q, nsize, s->tag);
		} else if (s->p && what < 72) {
			uintptr_t v;

			if (s->size < sizeof(struct header))
				continue;
			v = atomic_exchange(&mailbox[hpa_test_rand(&r) % MAILBOX],
					    (uintptr_t)s->p);
			s->p = NULL;
			take_from_mailbox(w, v);
		} else if (!s->p) {
			size_t size = random_size(&r), align = 0;

			if (what < 10) {
				align = (size_t)1 << (4 + hpa_test_rand(&r) % 13);
				if (hpa_test_rand(&r) % 50 == 0)
					align = 2 << 20;
				s->p = hpa_aligned_alloc(align, size);
			} else if (what < 15) {
				s->p = hpa_calloc(1, size);
				for (i = 0; s->p && (size_t)i < size;
				     i += 1 + (int)(size / 64))
					if (s->p[i])
						FAIL(w, "calloc(%zu) byte %d "
						     "not zero", size, i);
			} else {
				s->p = hpa_malloc(size);
			}
			if (!s->p) {
				FAIL(w, "allocation of %zu failed: %d", size,
				     errno);
				continue;
			}
			if ((uintptr_t)s->p % (align ? align : 16))
				FAIL(w, "%p not aligned to %zu", s->p,
				     align ? align : 16);
			if (hpa_usable_size(s->p) < size)
				FAIL(w, "usable size %zu < %zu",
				     hpa_usable_size(s->p), size);
			s->size = size;
			s->tag = ++tag;
			fill(s->p, size, s->tag);
		}
	}
	for (i = 0; i < SLOTS; i++)
		if (slots[i].p)
			release(w, &slots[i]);
	return NULL;
}

FIXTURE(model) {};
FIXTURE_SETUP(model)
{
	const char *s = getenv("HPA_TEST_SEED"), *o = getenv("HPA_TEST_OPS");

#ifdef MODEL_FAKE
	fake_install();
#else
	HPA_REQUIRE_DEVICE();
#endif
	seed = s ? strtoul(s, NULL, 0) : (unsigned long)time(NULL);
	ops_per_thread = o ? strtol(o, NULL, 0) : DEFAULT_OPS;
	ksft_print_msg("seed %lu (HPA_TEST_SEED), %ld ops per thread\n", seed,
		       ops_per_thread);
}
FIXTURE_TEARDOWN(model) {}

static void run_model(struct __test_metadata *_metadata, int nthreads)
{
	struct worker w[THREADS] = { 0 };
	pthread_t t[THREADS];
	struct worker drain = { .id = 99 };
	int i;

	for (i = 0; i < nthreads; i++) {
		w[i].id = i;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, run_worker, &w[i]));
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, w[i].failures) TH_LOG("thread %d: %s", i, w[i].why);
	}
	for (i = 0; i < MAILBOX; i++)
		take_from_mailbox(&drain, atomic_exchange(&mailbox[i], 0));
	EXPECT_EQ(0, drain.failures) TH_LOG("%s", drain.why);
#ifdef MODEL_FAKE
	EXPECT_EQ(0, fake.errors);
#endif
}

TEST_F(model, one_thread)
{
	run_model(_metadata, 1);
}

TEST_F(model, threads_with_remote_frees)
{
	run_model(_metadata, THREADS);
}

TEST_HARNESS_MAIN
