// SPDX-License-Identifier: GPL-2.0
/*
 * Where a free goes, over the fake backend: onto the freeing thread's own
 * free cache of the block's class, whichever heap the block's page is in,
 * and from a thread without a heap onto the page's remote list.  These
 * tests free the blocks of an exited thread's heap before and after its
 * adoption, and a parent thread's blocks in a fork child, and look where
 * each free went and that the blocks come back intact.
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

/* Blocks allocated by one thread, and its heap. */
struct owner_blocks {
	char *p[NBLOCKS];
	struct hpa_heap *heap;
	sem_t ready, release;
};

static void alloc_blocks(struct owner_blocks *ob)
{
	int i;

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

FIXTURE(freer) {};
FIXTURE_SETUP(freer)
{
	fake_install();
	/* This thread's heap exists: a new thread adopts the exited one's. */
	hpa_free(hpa_malloc(1));
}
FIXTURE_TEARDOWN(freer) {}

TEST_F(freer, frees_go_to_the_freeing_threads_cache_node_heaps_back)
{
	char *p = hpa_malloc(SIZE), *q = hpa_malloc_node(SIZE, 0);

	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, q);
	/* A node heap's block freed by this thread: onto its remote list. */
	hpa_free(q);
	EXPECT_TRUE(on_list(atomic_load(&page_of(q)->remote), q));
	hpa_free(p);
	EXPECT_EQ(p, (char *)hpa_tls_heap->cls[hpa_size_class(SIZE)].cache);
}

/* What a new thread finds and does with an exited thread's blocks. */
struct adopter {
	struct owner_blocks *ob;
	bool before_on_remote, before_in_heap_cache;
	struct hpa_heap *adopted;
	int cached, reused;
};

static void *free_then_adopt(void *arg)
{
	struct adopter *a = arg;
	struct owner_blocks *ob = a->ob;
	unsigned int cls = hpa_size_class(SIZE);
	char *p = ob->p[0], *q[NBLOCKS];
	int i;

	/* No heap yet, so the abandoned one is not adopted: remote list. */
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
			a->cached++;
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

TEST_F(freer, exited_threads_blocks_go_remote_until_its_heap_is_adopted)
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
	pg = page_of(ob.p[NBLOCKS - 1]);
	EXPECT_EQ(ob.heap, pg->heap);

	ASSERT_EQ(0, pthread_create(&t, NULL, free_then_adopt, &a));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(ob.heap, a.adopted);
	EXPECT_TRUE(a.before_on_remote);
	EXPECT_FALSE(a.before_in_heap_cache);
	EXPECT_EQ(NBLOCKS - 1, a.cached);
	EXPECT_EQ(NBLOCKS - 1, a.reused);
	/* Abandoned again by the adopter's exit. */
	EXPECT_TRUE(ob.heap->abandoned);
}

/* In the fork child: a new thread frees the blocks of a parent thread. */
struct child_thread {
	struct owner_blocks *ob;
	int cached, reused, errors;
};

static void *free_parents_blocks(void *arg)
{
	struct child_thread *c = arg;
	struct owner_blocks *ob = c->ob;
	char *q[NBLOCKS];
	int i, j;

	hpa_free(hpa_malloc(1));	/* a heap of its own */
	for (i = 0; i < NBLOCKS; i++) {
		unsigned int cls = hpa_size_class(SIZE);

		for (j = 0; j < SIZE; j++)
			if ((unsigned char)ob->p[i][j] != 0x5a)
				c->errors++;
		hpa_free(ob->p[i]);
		if (hpa_tls_heap->cls[cls].cache == (void *)ob->p[i] &&
		    !on_list(ob->heap->cls[cls].cache, ob->p[i]))
			c->cached++;
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
 * The child's exit status: 0, else the number of the first check that
 * failed.  glibc may give the child's new thread the stack and TCB of the
 * parent's thread, which the child never saw exit.
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
	if (c.cached != NBLOCKS)
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
	return 0;
}

TEST_F(freer, fork_child_threads_free_and_reuse_parent_threads_blocks)
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
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(fork_child_checks(&ob));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	sem_post(&ob.release);
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_TRUE(WIFEXITED(status));
	for (i = 0; i < NBLOCKS; i++)
		hpa_free(ob.p[i]);
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
