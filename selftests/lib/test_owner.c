// SPDX-License-Identifier: GPL-2.0
/*
 * free's owner check over the fake backend: a page's owner is the thread
 * pointer of the thread whose heap holds it (hpa_page.owner), and free
 * takes the owner path only when that is its own.  Thread pointers come
 * back: glibc gives a new thread the stack, and so the TCB, of one that
 * exited, and in a fork child those of the parent's other threads.  These
 * tests make that happen and look at where each free went: the page's
 * heap's free cache (owner path, the page's own tag), the freeing thread's
 * cache (remote path, the foreign tag) or the page's remote list (remote
 * path from a thread without a heap).
 */
#include <pthread.h>
#include <semaphore.h>

#include "hpa_test.h"

enum { NBLOCKS = 64, SIZE = 64 };

static struct hpa_page *page_of(const void *p)
{
	return hpa_unit_page(((uintptr_t)p - (uintptr_t)hpa_arena.base) >>
			     HPA_UNIT_SHIFT);
}

static bool on_list(const struct hpa_block *list, const void *p)
{
	for (; list; list = list->next)
		if (list == p)
			return true;
	return false;
}

/* Blocks allocated by one thread, and who that thread was. */
struct owner_blocks {
	char *p[NBLOCKS];
	uintptr_t id;
	struct hpa_heap *heap;
	sem_t ready, release;
};

static void alloc_blocks(struct owner_blocks *ob)
{
	int i;

	ob->id = hpa_thread_id();
	for (i = 0; i < NBLOCKS; i++) {
		ob->p[i] = hpa_malloc(SIZE);
		if (ob->p[i])
			memset(ob->p[i], 0x5a, SIZE);
	}
	ob->heap = hpa_tls_heap;
}

static void *alloc_and_exit(void *arg)
{
	alloc_blocks(arg);
	return NULL;
}

static void *alloc_and_wait(void *arg)
{
	struct owner_blocks *ob = arg;

	alloc_blocks(ob);
	sem_post(&ob->ready);
	while (sem_wait(&ob->release))
		;
	return NULL;
}

FIXTURE(owner) {};
FIXTURE_SETUP(owner)
{
	fake_install();
	/* This thread's heap exists: a new thread adopts the exited one's. */
	hpa_free(hpa_malloc(1));
	ASSERT_NE(0, hpa_page_owner(page_of(hpa_malloc(SIZE))));
}
FIXTURE_TEARDOWN(owner) {}

TEST_F(owner, new_pages_belong_to_their_thread_node_pages_to_none)
{
	char *p = hpa_malloc(SIZE), *q = hpa_malloc_node(SIZE, 0);

	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(hpa_thread_id(), hpa_page_owner(page_of(p)));
	EXPECT_EQ(0, hpa_page_owner(page_of(q)));
	EXPECT_EQ(0, hpa_page_owner(hpa_no_page));
	/* A node heap's block freed by this thread: onto its remote list. */
	hpa_free(q);
	EXPECT_TRUE(on_list(atomic_load(&page_of(q)->remote), q));
	hpa_free(p);
	EXPECT_EQ(p, (char *)hpa_tls_heap->cls[hpa_size_class(SIZE)].cache);
}

/* What a thread that reuses the exited one's TCB finds and does. */
struct adopter {
	struct owner_blocks *ob;
	uintptr_t id;
	bool before_on_remote, before_in_heap_cache;
	struct hpa_heap *adopted;
	int owner_path, reused;
};

static void *free_then_adopt(void *arg)
{
	struct adopter *a = arg;
	struct owner_blocks *ob = a->ob;
	unsigned int cls = hpa_size_class(SIZE);
	char *p = ob->p[0], *q[NBLOCKS];
	int i;

	a->id = hpa_thread_id();
	/*
	 * No heap yet, so the abandoned one is not adopted: the free takes
	 * the remote path, even from the thread pointer that owned it.
	 */
	hpa_free(p);
	a->before_on_remote = on_list(atomic_load(&page_of(p)->remote), p);
	a->before_in_heap_cache = on_list(ob->heap->cls[cls].cache, p);
	/* The first malloc adopts it; the rest of its blocks are ours now. */
	hpa_free(hpa_malloc(1));
	a->adopted = hpa_tls_heap;
	for (i = 1; i < NBLOCKS; i++) {
		struct hpa_page *pg = page_of(ob->p[i]);

		hpa_free(ob->p[i]);
		if (((struct hpa_block *)ob->p[i])->tag == pg->cookie &&
		    a->adopted->cls[cls].cache == (void *)ob->p[i])
			a->owner_path++;
	}
	/* Handed out again from the cache, most recently freed first. */
	for (i = 0; i < NBLOCKS - 1; i++) {
		q[i] = hpa_malloc(SIZE);
		if (q[i] == ob->p[NBLOCKS - 1 - i])
			a->reused++;
		memset(q[i], 0xa5, SIZE);
	}
	for (i = 0; i < NBLOCKS - 1; i++)
		hpa_free(q[i]);
	return NULL;
}

TEST_F(owner, exited_threads_heap_is_remote_until_adopted_then_owned)
{
	struct owner_blocks ob;
	struct adopter a = { .ob = &ob };
	struct hpa_page *pg;
	pthread_t t;
	int i;

	ASSERT_EQ(0, pthread_create(&t, NULL, alloc_and_exit, &ob));
	ASSERT_EQ(0, pthread_join(t, NULL));
	for (i = 0; i < NBLOCKS; i++)
		ASSERT_NE(NULL, ob.p[i]);
	ASSERT_TRUE(ob.heap->abandoned);
	/* Abandoned: nobody owns its pages, a free from here is remote. */
	pg = page_of(ob.p[NBLOCKS - 1]);
	EXPECT_EQ(0, hpa_page_owner(pg));
	EXPECT_EQ(0, hpa_page_owner(page_of(ob.p[0])));

	ASSERT_EQ(0, pthread_create(&t, NULL, free_then_adopt, &a));
	ASSERT_EQ(0, pthread_join(t, NULL));
	TH_LOG("the adopting thread %s the exited one's thread pointer",
	       a.id == ob.id ? "got" : "did not get");
	EXPECT_EQ(ob.heap, a.adopted);
	EXPECT_TRUE(a.before_on_remote);
	EXPECT_FALSE(a.before_in_heap_cache);
	EXPECT_EQ(NBLOCKS - 1, a.owner_path);
	EXPECT_EQ(NBLOCKS - 1, a.reused);
	/* Abandoned again by the adopter's exit. */
	EXPECT_TRUE(ob.heap->abandoned);
	EXPECT_EQ(0, hpa_page_owner(page_of(ob.p[0])));
	/* Without the TCB coming back the remote-path check proves nothing. */
	if (a.id != ob.id)
		SKIP(return, "glibc gave the new thread another thread pointer");
}

/* In the fork child: a new thread frees the blocks of a parent thread. */
struct child_thread {
	struct owner_blocks *ob;
	uintptr_t id;
	int remote_path, owner_is_me, reused, errors;
};

static void *free_parents_blocks(void *arg)
{
	struct child_thread *c = arg;
	struct owner_blocks *ob = c->ob;
	char *q[NBLOCKS];
	int i, j;

	c->id = hpa_thread_id();
	hpa_free(hpa_malloc(1));	/* a heap: remote frees are cached */
	for (i = 0; i < NBLOCKS; i++) {
		struct hpa_page *pg = page_of(ob->p[i]);

		if (hpa_page_owner(pg) == c->id)
			c->owner_is_me++;
		for (j = 0; j < SIZE; j++)
			if ((unsigned char)ob->p[i][j] != 0x5a)
				c->errors++;
		hpa_free(ob->p[i]);
		if (((struct hpa_block *)ob->p[i])->tag ==
		    (pg->cookie ^ HPA_FOREIGN_TAG) &&
		    !on_list(ob->heap->cls[hpa_size_class(SIZE)].cache,
			     ob->p[i]))
			c->remote_path++;
	}
	/* This thread's next mallocs of the class reuse them. */
	for (i = 0; i < NBLOCKS; i++) {
		q[i] = hpa_malloc(SIZE);
		if (!q[i]) {
			c->errors++;
			return NULL;
		}
		if (page_of(q[i])->heap == ob->heap)
			c->reused++;
		memset(q[i], i, SIZE);
	}
	for (i = 0; i < NBLOCKS; i++) {
		for (j = 0; j < SIZE; j++)
			if (q[i][j] != (char)i)
				c->errors++;
		hpa_free(q[i]);
	}
	return NULL;
}

/*
 * The child's exit status: 0, 1 when the new thread did not get the
 * parent thread's thread pointer (the owner check is not put to the test
 * then), else the number of the first check that failed.
 */
static int fork_child_checks(struct owner_blocks *ob)
{
	struct child_thread c = { .ob = ob };
	pthread_t t;
	char *p[1000];
	int i;

	if (pthread_create(&t, NULL, free_parents_blocks, &c) ||
	    pthread_join(t, NULL))
		return 2;
	if (c.owner_is_me)
		return 3;
	if (c.remote_path != NBLOCKS)
		return 4;
	if (c.reused != NBLOCKS || c.errors)
		return 5;
	/* The child's own thread goes on allocating and freeing. */
	for (i = 0; i < 1000; i++) {
		p[i] = hpa_malloc((size_t)(i % 200) + 1);
		if (!p[i])
			return 6;
		memset(p[i], 1, (size_t)(i % 200) + 1);
	}
	for (i = 0; i < 1000; i++)
		hpa_free(p[i]);
	if (fake.errors)
		return 7;
	return c.id == ob->id ? 0 : 1;
}

TEST_F(owner, fork_child_threads_do_not_own_parent_threads_pages)
{
	struct owner_blocks ob;
	pthread_t t;
	int status, i;
	pid_t pid;

#ifdef __SANITIZE_THREAD__
	SKIP(return, "TSan does not run threads started after a multi-threaded fork");
#endif
	ASSERT_EQ(0, sem_init(&ob.ready, 0, 0));
	ASSERT_EQ(0, sem_init(&ob.release, 0, 0));
	ASSERT_EQ(0, pthread_create(&t, NULL, alloc_and_wait, &ob));
	while (sem_wait(&ob.ready))
		;
	for (i = 0; i < NBLOCKS; i++)
		ASSERT_NE(NULL, ob.p[i]);
	ASSERT_EQ(ob.id, hpa_page_owner(page_of(ob.p[0])));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(fork_child_checks(&ob));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	/* The parent's thread still owns its pages. */
	EXPECT_EQ(ob.id, hpa_page_owner(page_of(ob.p[0])));
	sem_post(&ob.release);
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_TRUE(WIFEXITED(status));
	for (i = 0; i < NBLOCKS; i++)
		hpa_free(ob.p[i]);
	TH_LOG("the child's new thread %s the parent thread's thread pointer",
	       WEXITSTATUS(status) == 1 ? "did not get" : "got");
	if (WEXITSTATUS(status) == 1)
		SKIP(return, "glibc gave the child's thread another thread pointer");
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * fork while another thread carves a page: the child finds the page's unit
 * entries set and its units still 0 (page_init() clears the page after
 * hpa_segment_page_new() named the units).  The child's handler must step
 * over it and clear its owner; it once looped there for ever (seen as a
 * fork test's timeout in a guest).  Made here by hand: the state of that
 * moment, then the handler.
 */
TEST_F(owner, fork_handler_steps_over_a_page_being_carved)
{
	struct owner_blocks ob;
	struct hpa_page *pg;
	pthread_t t;
	uint8_t units;
	int i;

	ASSERT_EQ(0, pthread_create(&t, NULL, alloc_and_exit, &ob));
	ASSERT_EQ(0, pthread_join(t, NULL));
	for (i = 0; i < NBLOCKS; i++)
		ASSERT_NE(NULL, ob.p[i]);
	ASSERT_NE(hpa_tls_heap, ob.heap);
	pg = page_of(ob.p[0]);
	/* the exited thread's heap, adopted by nobody yet: give it an owner */
	atomic_store(&pg->owner, (uintptr_t)1 << 40);
	units = pg->units;
	ASSERT_LT(0, units);
	pg->units = 0;
	hpa_heaps_fork_child();
	pg->units = units;
	EXPECT_EQ(0, hpa_page_owner(pg));
	for (i = 0; i < NBLOCKS; i++)
		hpa_free(ob.p[i]);
}

TEST_HARNESS_MAIN
