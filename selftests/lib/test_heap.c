// SPDX-License-Identifier: GPL-2.0
/*
 * Thread heaps over the fake backend: local and remote frees, hand-over at
 * thread exit, empty segments going back, corruption detection.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>

#include "hpa_test.h"

static uint64_t in_use(void)
{
	struct hpa_stats st = { .size = sizeof(st) };

	hpa_stats(&st);
	return st.bytes_in_use;
}

static uint64_t segments(void)
{
	struct hpa_stats st = { .size = sizeof(st) };

	hpa_stats(&st);
	return st.segments;
}

FIXTURE(heap) {};
FIXTURE_SETUP(heap)
{
	fake_install();
	setenv("HPALLOC_RETAIN", "0", 1);
}
FIXTURE_TEARDOWN(heap) {}

TEST_F(heap, blocks_are_distinct_aligned_and_reused)
{
	enum { N = 20000 };
	static char *p[N];
	int i;

	for (i = 0; i < N; i++) {
		p[i] = hpa_malloc((size_t)(i % 3000) + 1);
		ASSERT_NE(NULL, p[i]);
		ASSERT_EQ(0, (uintptr_t)p[i] % 16);
		memset(p[i], i & 0xff, (size_t)(i % 3000) + 1);
	}
	for (i = 0; i < N; i++)
		ASSERT_EQ((char)(i & 0xff), p[i][i % 3000]) TH_LOG("block %d", i);
	EXPECT_GT(in_use(), 0);
	for (i = 0; i < N; i++)
		hpa_free(p[i]);
	EXPECT_EQ(0, in_use());
	/*
	 * Empty segments went back to the pool and (retain 0) the OS; each
	 * class keeps one empty page, at most one segment each.
	 */
	EXPECT_LE(segments(), hpa_size_class(3000) + 1);
	EXPECT_GT(fake.decommits, 0);
	EXPECT_EQ(0, fake.errors);
}

struct xfer {
	char **p;
	int n;
};

static void *free_all(void *arg)
{
	struct xfer *x = arg;
	int i;

	hpa_free(hpa_malloc(1));	/* get (or adopt) a heap */

	for (i = 0; i < x->n; i++)
		hpa_free(x->p[i]);
	return NULL;
}

TEST_F(heap, remote_frees_reach_the_owner)
{
	enum { N = 5000 };
	static char *p[N];
	struct xfer x = { p, N };
	pthread_t t;
	static char *q[1024];
	int i;

	for (i = 0; i < N; i++)
		ASSERT_NE(NULL, p[i] = hpa_malloc(64));
	ASSERT_EQ(0, pthread_create(&t, NULL, free_all, &x));
	pthread_join(t, NULL);
	/* Nothing collected yet: the owner has not looked. */
	EXPECT_EQ((uint64_t)N * 64, in_use());
	/* Running out of free blocks in the class makes the owner collect. */
	for (i = 0; i < 1024; i++)
		ASSERT_NE(NULL, q[i] = hpa_malloc(64));
	EXPECT_EQ(1024 * 64, in_use());
	for (i = 0; i < 1024; i++)
		hpa_free(q[i]);
	EXPECT_EQ(0, in_use());
}

static void *leave_blocks(void *arg)
{
	struct xfer *x = arg;
	int i;

	for (i = 0; i < x->n; i++)
		x->p[i] = hpa_malloc(128);
	return NULL;
}

TEST_F(heap, exited_thread_hands_over_its_heap)
{
	enum { N = 3000 };
	static char *p[N];
	struct xfer x = { p, N };
	struct hpa_heap *h;
	pthread_t t;
	int heaps = 0, heaps_after = 0, i;

	hpa_free(hpa_malloc(1));	/* this thread's heap exists */
	ASSERT_EQ(0, pthread_create(&t, NULL, leave_blocks, &x));
	pthread_join(t, NULL);
	for (h = hpa_all_heaps; h; h = h->next_all)
		heaps++;
	/* Another thread takes the exited one's heap over. */
	ASSERT_EQ(0, pthread_create(&t, NULL, free_all, &x));
	pthread_join(t, NULL);
	for (h = hpa_all_heaps; h; h = h->next_all)
		heaps_after++;
	EXPECT_EQ(heaps, heaps_after);
	EXPECT_EQ(0, in_use());
	for (i = 0; i < N; i++)
		p[i] = NULL;
}

static void double_free(void *arg)
{
	char *p = hpa_malloc(32);

	(void)arg;
	hpa_free(p);
	hpa_free(p);
}

static void interior_free(void *arg)
{
	char *p = hpa_malloc(32);

	(void)arg;
	hpa_malloc(32);
	hpa_free(p + 8);
}

static void foreign_free(void *arg)
{
	hpa_free(arg);
}

static struct hpa_page *page_of(const void *p)
{
	return hpa_unit_page(((uintptr_t)p - (uintptr_t)hpa_arena.base) >>
			     HPA_UNIT_SHIFT);
}

/*
 * A program that goes on allocating after a double free: free does not read
 * the block (struct hpa_block), so the check is on the block's way out of
 * its free state, before it can be handed out a second time.
 */
static void alloc_on(size_t size, unsigned int n)
{
	while (n--)
		hpa_malloc(size);
}

/* Freed, then pushed out of the free cache into the bitmap, freed again. */
static void double_free_after_flush(void *arg)
{
	unsigned int max, i;
	char *p = hpa_malloc(32), *q[2048];

	(void)arg;
	max = hpa_heap_get()->cls[hpa_size_class(32)].cache_max;
	for (i = 0; i < 2 * max && i < 2048; i++)
		q[i] = hpa_malloc(32);
	hpa_free(p);
	for (i = 0; i < 2 * max && i < 2048; i++)
		hpa_free(q[i]);
	hpa_free(p);
	/* p comes back from the cache, then the bitmap's take finds it. */
	alloc_on(32, 4 * max);
}

static void *free_it(void *p)
{
	hpa_free(p);
	return NULL;
}

/* The same from a thread with a heap of its own first. */
static void *free_it_keep_heap(void *p)
{
	hpa_free(hpa_malloc(1));
	hpa_free(p);
	return NULL;
}

static void *free_twice_keep_heap(void *p)
{
	hpa_free(hpa_malloc(1));
	hpa_free(p);
	hpa_free(p);
	return NULL;
}

/* fn(arg) in a thread of its own, to its end. */
static void in_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	pthread_create(&t, NULL, fn, arg);
	pthread_join(t, NULL);
}

/* Freed by its owner (in the cache), then by another thread. */
static void double_free_remote(void *arg)
{
	char *p = hpa_malloc(48);

	(void)arg;
	hpa_free(p);
	in_thread(free_it, p);
}

/*
 * Double frees of a block another thread holds in its cache: by that
 * thread, by the owner, by a third thread (the holder still running).
 */
struct holder {
	char *p;
	sem_t freed, done;
	int again;		/* the holder frees p a second time */
};

static void *hold_freed(void *arg)
{
	struct holder *h = arg;

	hpa_free(hpa_malloc(1));
	hpa_free(h->p);
	if (h->again)
		hpa_free(h->p);
	sem_post(&h->freed);
	sem_wait(&h->done);
	return NULL;
}

/* Freed by another thread (remote list), then by its owner. */
static void double_free_remote_then_local(void *arg)
{
	char *p = hpa_malloc(48);

	(void)arg;
	in_thread(free_it, p);
	hpa_free(hpa_malloc(48));	/* p is not the cache's head */
	hpa_free(p);
	alloc_on(48, 4 * hpa_heap_get()->cls[hpa_size_class(48)].cache_max);
}

/* Freed in a row: caught by the free itself. */
static void double_free_in_a_row_remote(void *arg)
{
	(void)arg;
	in_thread(free_twice_keep_heap, hpa_malloc(48));
}

/*
 * A block in the bitmap freed again, by a thread that then keeps it in its
 * cache, while the owner returns the rest of the page: the page's release
 * finds the block's tag is not the bitmap's.
 */
static void double_free_then_page_release(void *arg)
{
	struct hpa_heap *h = hpa_heap_get();
	struct hpa_class_list *cl = &h->cls[hpa_size_class(65536)];
	char *a[16];
	struct hpa_page *pg;
	struct holder hd;
	pthread_t t;
	int i;

	(void)arg;
	for (i = 0; i < 16; i++)
		a[i] = hpa_malloc(65536);
	pg = page_of(a[0]);
	hpa_free(a[0]);
	hpa_heap_cache_flush(h, cl, 0);
	memset(&hd, 0, sizeof(hd));
	hd.p = a[0];
	sem_init(&hd.freed, 0, 0);
	sem_init(&hd.done, 0, 0);
	pthread_create(&t, NULL, hold_freed, &hd);
	sem_wait(&hd.freed);
	if (cl->avail == pg)	/* the page must not be the one kept */
		_exit(3);
	for (i = 1; i < 16; i++)
		if (page_of(a[i]) == pg)
			hpa_free(a[i]);
	hpa_heap_cache_flush(h, cl, 0);
	_exit(4);		/* not caught */
}

/*
 * The first address past the last block of a page whose blocks leave a
 * tail in its last unit: a multiple of the block size from the page's
 * start, so only the bound on the block index tells it from a block.
 */
static char *past_last_block(void)
{
	size_t size;

	for (size = 48; size <= 1024; size += 16) {
		struct hpa_page *pg = page_of(hpa_malloc(size));
		size_t end = (size_t)hpa_classes[pg->cls].blocks *
			     pg->block_size;

		if (pg->block_size == size &&
		    end < ((size_t)pg->units << HPA_UNIT_SHIFT))
			return pg->start + end;
	}
	return NULL;
}


/*
 * A block start past its page's frontier: a block the page never handed
 * out, whose memory holds no free tag (a free of it used to be taken for
 * a valid one, and its block was then handed out twice).
 */
static char *never_handed_out(void)
{
	size_t size;

	for (size = 1024; size <= 4096; size += 512) {
		struct hpa_page *pg = page_of(hpa_malloc(size));

		if (pg->limit < hpa_classes[pg->cls].blocks)
			return pg->start + pg->limit * pg->block_size;
	}
	return NULL;
}

/* Children that free what arg (a struct bad_ptr) finds, here or remotely. */
struct bad_ptr {
	char *(*find)(void);
	const char *why;	/* what the abort message says */
};

static void free_bad_ptr(void *arg)
{
	hpa_free(((const struct bad_ptr *)arg)->find());
}

static void free_bad_ptr_remote(void *arg)
{
	pthread_t t;

	pthread_create(&t, NULL, free_it,
		       ((const struct bad_ptr *)arg)->find());
	pthread_join(t, NULL);
}

/* A unit of a live segment that is in no page (unit map entry 0). */
static void free_unit_in_no_page(void *arg)
{
	char *p = hpa_malloc(32);
	size_t u = ((uintptr_t)p - (uintptr_t)hpa_arena.base) >>
		   HPA_UNIT_SHIFT;
	size_t last = u | (HPA_UNITS - 1);

	(void)arg;
	while (last > u && hpa_unit_page(last) != hpa_no_page)
		last--;
	if (last == u)
		return;		/* no such unit: the test sees no abort */
	hpa_free(hpa_arena.base + (last << HPA_UNIT_SHIFT));
}

TEST_F(heap, frees_of_what_is_no_block_are_caught)
{
	static const struct bad_ptr bad[] = {
		{ past_last_block, "not the start of a block" },
		{ never_handed_out, "a block that was never allocated" },
	};
	char buf[1024];
	unsigned int i, remote;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_NE(NULL, bad[i].find());
		for (remote = 0; remote < 2; remote++) {
			EXPECT_EQ(SIGABRT, run_child(remote ?
					free_bad_ptr_remote : free_bad_ptr,
					(void *)&bad[i], buf, sizeof(buf),
					NULL));
			EXPECT_NE(NULL, strstr(buf, bad[i].why))
				TH_LOG("%s", buf);
		}
	}
	EXPECT_EQ(SIGABRT, run_child(free_unit_in_no_page, NULL, buf,
				     sizeof(buf), NULL));
	EXPECT_NE(NULL, strstr(buf, "not an allocated block"))
		TH_LOG("%s", buf);
}

/* The caller's data may hold the cookie: not a double free. */
TEST_F(heap, cookie_in_user_data_is_no_double_free)
{
	uint64_t *p = hpa_malloc(64), *q;

	ASSERT_NE(NULL, p);
	p[1] = hpa_free_cookie;
	hpa_free(p);
	q = hpa_malloc(64);
	EXPECT_EQ(p, q);	/* the block just freed comes back first */
	EXPECT_EQ(0, q[1]);	/* its tag is cleared */
	hpa_free(q);
}

TEST_F(heap, double_frees_are_caught_wherever_the_block_is)
{
	static void (*const cases[])(void *) = {
		double_free_after_flush, double_free_remote,
		double_free_remote_then_local, double_free_in_a_row_remote,
		double_free_then_page_release,
	};
	char buf[1024];
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EXPECT_EQ(SIGABRT, run_child(cases[i], NULL, buf, sizeof(buf),
					     NULL))
			TH_LOG("case %u", i);
		EXPECT_NE(NULL, strstr(buf, "double free"))
			TH_LOG("case %u: %s", i, buf);
	}
}

/*
 * A write to a block after its free (here its tag word) is caught where a
 * double free is: when the block was to be handed out again.
 */
static void write_after_free(void *arg)
{
	uint64_t *p = hpa_malloc(64);

	(void)arg;
	hpa_free(hpa_malloc(64));
	hpa_free(p);
	p[1] = 0x1234;
	hpa_malloc(64);
}

TEST_F(heap, a_write_after_free_is_caught_before_reuse)
{
	char buf[1024];

	EXPECT_EQ(SIGABRT, run_child(write_after_free, NULL, buf, sizeof(buf),
				     NULL));
	EXPECT_NE(NULL, strstr(buf, "a write to the block after its free"))
		TH_LOG("%s", buf);
}

TEST_F(heap, corruption_aborts_with_a_message)
{
	char buf[1024], expect[128];
	int local;

	EXPECT_EQ(SIGABRT, run_child(double_free, NULL, buf, sizeof(buf), NULL));
	EXPECT_NE(NULL, strstr(buf, "double free")) TH_LOG("%s", buf);
	EXPECT_EQ(SIGABRT, run_child(interior_free, NULL, buf, sizeof(buf),
				     NULL));
	EXPECT_NE(NULL, strstr(buf, "not the start of a block")) TH_LOG("%s", buf);
	hpa_free(hpa_malloc(1));
	snprintf(expect, sizeof(expect),
		 "hpa_free(%p): pointer was not allocated by hpalloc",
		 (void *)&local);
	EXPECT_EQ(SIGABRT, run_child(foreign_free, &local, buf, sizeof(buf),
				     NULL));
	EXPECT_NE(NULL, strstr(buf, expect)) TH_LOG("%s", buf);
}


/* ---- remote frees kept by the freeing thread ------------------------ */

/* Blocks on the remote lists of the pages of p[0..n). */
static size_t remote_blocks(char **p, int n)
{
	struct hpa_page *seen[64];
	int i, j, nseen = 0;
	size_t count = 0;

	for (i = 0; i < n; i++) {
		struct hpa_page *pg = page_of(p[i]);
		struct hpa_block *b;

		for (j = 0; j < nseen && seen[j] != pg; j++)
			;
		if (j < nseen)
			continue;
		if (nseen < 64)
			seen[nseen++] = pg;
		for (b = atomic_load(&pg->remote); b; b = b->next)
			count++;
	}
	return count;
}

/* Enough mallocs of 64 bytes that the owner runs dry and collects. */
static void collect_by_mallocs(void)
{
	static char *q[2048];
	int i;

	for (i = 0; i < 2048; i++)
		q[i] = hpa_malloc(64);
	for (i = 0; i < 2048; i++)
		hpa_free(q[i]);
}

struct reuse {
	char **p;
	int n;
	struct hpa_heap *owner;
	int same, remote_after_free, foreign;
	uint64_t in_use_cached, in_use_reused;
};

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

static void *free_then_reuse(void *arg)
{
	struct reuse *r = arg;
	char **q = calloc((size_t)r->n, sizeof(*q));
	char **a = calloc((size_t)r->n, sizeof(*a));
	int i;

	hpa_free(hpa_malloc(1));	/* this thread's own heap */
	for (i = 0; i < r->n; i++)
		hpa_free(r->p[i]);
	/* Kept here: nothing went to the owner's remote lists. */
	r->remote_after_free = (int)remote_blocks(r->p, r->n);
	r->in_use_cached = in_use();
	for (i = 0; i < r->n; i++) {
		q[i] = hpa_malloc(64);
		r->foreign += page_of(q[i])->heap == r->owner;
	}
	r->in_use_reused = in_use();
	/* The same blocks came back, the one freed last first. */
	memcpy(a, r->p, (size_t)r->n * sizeof(*a));
	r->same = q[0] == r->p[r->n - 1];
	qsort(a, (size_t)r->n, sizeof(*a), cmp_ptr);
	qsort(q, (size_t)r->n, sizeof(*q), cmp_ptr);
	r->same &= !memcmp(a, q, (size_t)r->n * sizeof(*q));
	for (i = 0; i < r->n; i++)
		hpa_free(q[i]);
	free(q);
	free(a);
	return NULL;
}

TEST_F(heap, cross_thread_frees_are_reused_by_the_freeing_thread)
{
	enum { N = 300 };
	static char *p[N];
	struct reuse r = { p, N, NULL, 0, 0, 0, 0, 0 };
	pthread_t t;
	int i;

	for (i = 0; i < N; i++)
		ASSERT_NE(NULL, p[i] = hpa_malloc(64));
	r.owner = hpa_heap_get();
	ASSERT_GT(r.owner->cls[hpa_size_class(64)].cache_max, N);
	ASSERT_EQ(0, pthread_create(&t, NULL, free_then_reuse, &r));
	pthread_join(t, NULL);
	EXPECT_EQ(0, r.remote_after_free);
	EXPECT_EQ(N, r.foreign);
	EXPECT_EQ(1, r.same);
	/* Cached blocks are not in use; handed out again they are. */
	EXPECT_EQ(0, r.in_use_cached);
	EXPECT_EQ((uint64_t)N * 64, r.in_use_reused);
	/*
	 * The thread exited with the blocks freed again in its cache: they
	 * went back to their pages' remote lists, still counted as in use
	 * until the owner collects them.
	 */
	EXPECT_EQ(N, remote_blocks(p, N));
	EXPECT_EQ((uint64_t)N * 64, in_use());
	collect_by_mallocs();
	EXPECT_EQ(0, remote_blocks(p, N));
	EXPECT_EQ(0, in_use());
}

static void *free_some(void *arg)
{
	struct xfer *x = arg;
	int i;

	hpa_free(hpa_malloc(1));
	for (i = 0; i < x->n; i++)
		hpa_free(x->p[i]);
	/* Left in this thread's cache: the rest went back in the flushes. */
	x->n = (int)remote_blocks(x->p, x->n);
	return NULL;
}

/*
 * glibc-simple's shape: a thousand blocks of one small size allocated, all
 * freed, allocated again; the cache holds them all (no trip through the
 * bitmaps) and hands them back newest first.
 */
TEST_F(heap, batches_of_a_thousand_small_blocks_stay_in_the_cache)
{
	enum { N = 1000 };
	static const size_t sizes[] = { 16, 64, 128, 192, 256 };
	static char *p[N], *q[N];
	unsigned int s, i;

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct hpa_class_list *cl =
			&hpa_heap_get()->cls[hpa_size_class(sizes[s])];
		uint32_t room;

		/* Start from an empty cache of the class. */
		hpa_heap_cache_flush(hpa_heap_get(), cl, 0);
		ASSERT_GE(cl->cache_max, N) TH_LOG("%zu bytes", sizes[s]);
		for (i = 0; i < N; i++)
			ASSERT_NE(NULL, p[i] = hpa_malloc(sizes[s]));
		for (i = 0; i < N; i++)
			hpa_free(p[i]);
		room = atomic_load(&cl->cache_room);
		EXPECT_EQ(cl->cache_max - N, room) TH_LOG("%zu bytes",
							  sizes[s]);
		for (i = 0; i < N; i++)
			q[i] = hpa_malloc(sizes[s]);
		for (i = 0; i < N; i++)
			EXPECT_EQ(p[N - 1 - i], q[i]) TH_LOG("%zu bytes, %u",
							     sizes[s], i);
		for (i = 0; i < N; i++)
			hpa_free(q[i]);
	}
}

/* Past the cache's limit the older half goes back to the owners. */
TEST_F(heap, cross_thread_frees_overflow_to_the_owner)
{
	enum { N = 5000 };
	static char *p[N];
	struct xfer x = { p, N };
	unsigned int max;
	pthread_t t;
	int i;

	for (i = 0; i < N; i++)
		ASSERT_NE(NULL, p[i] = hpa_malloc(64));
	max = hpa_heap_get()->cls[hpa_size_class(64)].cache_max;
	ASSERT_LT(max, N);
	ASSERT_EQ(0, pthread_create(&t, NULL, free_some, &x));
	pthread_join(t, NULL);
	/* All but what the cache keeps (max/2 .. max blocks) were handed back. */
	EXPECT_GE(x.n, N - (int)max);
	EXPECT_LE(x.n, N - (int)max / 2);
	/* And the rest at thread exit. */
	EXPECT_EQ(N, remote_blocks(p, N));
	EXPECT_EQ((uint64_t)N * 64, in_use());
	collect_by_mallocs();
	EXPECT_EQ(0, remote_blocks(p, N));
	EXPECT_EQ(0, in_use());
}

static int was_kept;

/* Free p and look whether it went into this thread's cache. */
static void *free_and_look(void *p)
{
	hpa_free(hpa_malloc(1));
	hpa_free(p);
	was_kept = atomic_load(&page_of(p)->remote) == NULL &&
		hpa_heap_get()->cls[page_of(p)->cls].cache == p;
	return NULL;
}

/*
 * A node heap's block freed by another thread goes straight back to its
 * page; any other block stays with the freer, up to the largest class.
 */
TEST_F(heap, node_heap_blocks_freed_elsewhere_go_back_at_once)
{
	char *p = hpa_malloc_node(64, 1);
	char *big = hpa_malloc(HPA_SMALL_MAX);
	char *small = hpa_malloc(64);
	pthread_t t;

	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, big);
	ASSERT_NE(NULL, small);
	ASSERT_EQ(0, pthread_create(&t, NULL, free_it_keep_heap, p));
	pthread_join(t, NULL);
	EXPECT_EQ((struct hpa_block *)p, atomic_load(&page_of(p)->remote));
	ASSERT_EQ(0, pthread_create(&t, NULL, free_and_look, big));
	pthread_join(t, NULL);
	EXPECT_EQ(1, was_kept);
	was_kept = 0;
	ASSERT_EQ(0, pthread_create(&t, NULL, free_and_look, small));
	pthread_join(t, NULL);
	EXPECT_EQ(1, was_kept);
}

static void double_free_foreign(void *arg)
{
	struct holder h;
	pthread_t t, u;

	memset(&h, 0, sizeof(h));
	h.p = hpa_malloc(48);
	h.again = *(int *)arg == 0;
	sem_init(&h.freed, 0, 0);
	sem_init(&h.done, 0, 0);
	pthread_create(&t, NULL, hold_freed, &h);
	sem_wait(&h.freed);
	if (*(int *)arg == 1) {
		hpa_free(h.p);		/* the owner */
	} else if (*(int *)arg == 2) {
		pthread_create(&u, NULL, free_it_keep_heap, h.p);
		pthread_join(u, NULL);
	}
	sem_post(&h.done);
	pthread_join(t, NULL);
	alloc_on(48, 4 * hpa_heap_get()->cls[hpa_size_class(48)].cache_max);
}

/*
 * Another heap's block freed twice with one between, by a thread that then
 * flushes its cache: the two stand in a loop there (p, q, p, ...), and the
 * flush must stop at the second p, not go round for ever.
 */
static void *free_pqp_and_flush(void *arg)
{
	char **pq = arg;
	struct hpa_heap *me;

	hpa_free(hpa_malloc(1));
	me = hpa_heap_get();
	hpa_free(pq[0]);
	hpa_free(pq[1]);
	hpa_free(pq[0]);
	hpa_heap_cache_flush(me, &me->cls[hpa_size_class(48)], 0);
	return NULL;
}

static void double_free_foreign_interleaved(void *arg)
{
	char *pq[2] = { hpa_malloc(48), hpa_malloc(48) };

	(void)arg;
	in_thread(free_pqp_and_flush, pq);
}

TEST_F(heap, double_frees_across_threads_are_caught)
{
	char buf[1024];
	int who;

	for (who = 0; who < 3; who++) {
		EXPECT_EQ(SIGABRT, run_child(double_free_foreign, &who, buf,
					     sizeof(buf), NULL))
			TH_LOG("case %d", who);
		EXPECT_NE(NULL, strstr(buf, "double free"))
			TH_LOG("case %d: %s", who, buf);
	}
	EXPECT_EQ(SIGABRT, run_child(double_free_foreign_interleaved, NULL,
				     buf, sizeof(buf), NULL));
	EXPECT_NE(NULL, strstr(buf, "double free")) TH_LOG("%s", buf);
}

TEST_F(heap, node_heap_binds_its_segments)
{
	char *p = hpa_malloc_node(100, 1);

	ASSERT_NE(NULL, p);
	EXPECT_EQ(1, fake.last_node);
	EXPECT_EQ(1, hpa_segment_of(p)->node);
	hpa_free(p);
	errno = 0;
	EXPECT_EQ(NULL, hpa_malloc_node(100, 5));
	EXPECT_EQ(EINVAL, errno);
}

/*
 * HPALLOC_SMALL_START (default 8M): a heap's first segments are committed
 * on 4 KiB pages, later ones on the backend's huge pages.
 */
static void fill_segments(char **p, int n)
{
	int i;

	/* 60000 bytes: one block per 64 KiB page, 32 pages per segment */
	for (i = 0; i < n; i++)
		p[i] = hpa_malloc(60000);
}

TEST_F(heap, first_segments_are_small_pages)
{
	static char *p[224];
	struct hpa_stats st = { .size = sizeof(st) };
	int i;

	fill_segments(p, 224);
	for (i = 0; i < 224; i++)
		ASSERT_NE(NULL, p[i]);
	hpa_stats(&st);
	EXPECT_EQ(7, st.segments);
	EXPECT_EQ(4, fake.small_commits);
	EXPECT_EQ(4 * HPA_CHUNK_SIZE, st.per_backend[HPA_BACKEND_4K].bytes_mapped);
	EXPECT_EQ(3 * HPA_CHUNK_SIZE, st.per_backend[fake.backend].bytes_mapped);
	for (i = 0; i < 224; i++)
		hpa_free(p[i]);
}

TEST_F(heap, small_start_zero_is_huge_pages_from_the_start)
{
	static char *p[96];
	int i;

	setenv("HPALLOC_SMALL_START", "0", 1);
	fill_segments(p, 96);
	for (i = 0; i < 96; i++)
		ASSERT_NE(NULL, p[i]);
	EXPECT_EQ(0, fake.small_commits);
	for (i = 0; i < 96; i++)
		hpa_free(p[i]);
}

/* A segment that cannot be committed: NULL and ENOMEM from the public API. */
TEST_F(heap, no_segment_is_enomem)
{
	void *p;

	fake.fail_commits = 1000;
	errno = 0;
	EXPECT_EQ(NULL, hpa_malloc(100));
	EXPECT_EQ(ENOMEM, errno);
	fake.fail_commits = 0;
	p = hpa_malloc(100);
	EXPECT_NE(NULL, p);
	hpa_free(p);
	EXPECT_EQ(0, fake.errors);
}

/*
 * The same failure seen from inside: the heap and the internal allocation
 * functions return NULL and leave errno alone; each exported function
 * says ENOMEM itself (posix_memalign returns it and keeps errno), and a
 * big block that realloc cannot turn into a small one stays as it was.
 */
TEST_F(heap, no_segment_leaves_errno_to_the_exported_functions)
{
	char *big = hpa_malloc(3 << 20);	/* initialises; no segment yet */
	struct hpa_heap *h = hpa_heap_get();
	void *q = (void *)1;

	ASSERT_NE(NULL, big);
	ASSERT_NE(NULL, h);
	strcpy(big, "kept");
	fake.fail_commits = 1000;
	errno = 0;
	EXPECT_EQ(NULL, hpa_heap_alloc(h, hpa_size_class(100)));
	EXPECT_EQ(0, errno);
	EXPECT_EQ(NULL, hpa_alloc_small(100));
	EXPECT_EQ(0, errno);
	EXPECT_EQ(NULL, hpa_alloc_aligned_node(100, 256, -1));
	EXPECT_EQ(0, errno);
	EXPECT_EQ(NULL, hpa_alloc_aligned_node(100, HPA_ALIGN, 1));
	EXPECT_EQ(0, errno);

	EXPECT_EQ(NULL, hpa_calloc(10, 10));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, hpa_aligned_alloc(256, 100));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, hpa_malloc_node(100, 1));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, hpa_realloc(big, 100));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_STREQ("kept", big);
	EXPECT_EQ(4 << 20, hpa_usable_size(big));
	errno = EDOM;
	EXPECT_EQ(ENOMEM, hpa_posix_memalign(&q, 64, 100));
	EXPECT_EQ(EDOM, errno);
	EXPECT_EQ((void *)1, q);
	fake.fail_commits = 0;
	hpa_free(big);
	EXPECT_EQ(0, fake.errors);
}

/*
 * A thread whose heap runs out of segments: the inlined fast path's refill
 * fails, and the exported malloc still says ENOMEM; the library's own
 * variant of the fast path leaves errno alone.
 */
TEST_F(heap, full_heap_is_enomem_through_the_fast_path)
{
	enum { N = 64 };	/* more than one 2 MiB segment holds */
	void *p[N];
	int n, i;

	p[0] = hpa_malloc(100);
	ASSERT_NE(NULL, p[0]);
	ASSERT_GT((uintptr_t)hpa_tls_heap, 1);	/* fast path from now on */
	fake.fail_commits = 1000;
	for (n = 1; n < N; n++) {
		errno = 0;
		p[n] = hpa_malloc(64 << 10);
		if (!p[n])
			break;
	}
	ASSERT_LT(n, N);
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, hpa_alloc_inline(64 << 10));
	EXPECT_EQ(0, errno);
	fake.fail_commits = 0;
	for (i = 0; i < n; i++)
		hpa_free(p[i]);
	EXPECT_EQ(0, fake.errors);
}

TEST_HARNESS_MAIN
