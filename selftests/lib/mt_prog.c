// SPDX-License-Identifier: GPL-2.0
/*
 * A plain multi-threaded program using the glibc malloc API, run with and
 * without LD_PRELOAD=libhpalloc-preload.so: its output (checksums of what
 * it built) must be the same.  Threads pass lists to each other, so blocks
 * are freed by threads that did not allocate them.
 */
#include <malloc.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define ROUNDS 200
#define ITEMS 500

struct item {
	struct item *next;
	size_t len;
	char data[];
};

static struct item *_Atomic inbox[THREADS];

static uint64_t sum_and_free(struct item *it)
{
	uint64_t s = 0;

	while (it) {
		struct item *n = it->next;
		size_t i;

		for (i = 0; i < it->len; i++)
			s = s * 31 + (unsigned char)it->data[i];
		free(it);
		it = n;
	}
	return s;
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg, r, i;
	uint64_t seed = (uint64_t)id * 7919 + 1, total = 0;

	for (r = 0; r < ROUNDS; r++) {
		struct item *list = NULL;

		for (i = 0; i < ITEMS; i++) {
			size_t len = (seed = seed * 6364136223846793005ULL +
				      1442695040888963407ULL) >> 52;
			struct item *it = malloc(sizeof(*it) + len);
			char *tmp;

			if (!it)
				abort();
			it->len = len;
			memset(it->data, (int)(len & 0x7f), len);
			if (len > 100 && (tmp = realloc(strdup("x"), len))) {
				memcpy(tmp, it->data, len);
				if (memcmp(tmp, it->data, len))
					abort();
				free(tmp);
			}
			it->next = list;
			list = it;
		}
		/* Hand the list to the next thread; free what we got. */
		list = atomic_exchange(&inbox[(id + 1) % THREADS], list);
		total += sum_and_free(list);
	}
	return (void *)(uintptr_t)(total & 0xffff);
}

int main(void)
{
	pthread_t t[THREADS];
	uint64_t all = 0;
	void *ret;
	int i;
	char *p = calloc(1000, 8), *q;
	void *m;

	for (i = 0; i < 8000; i++)
		if (p[i])
			return 1;
	q = memalign(4096, 100);
	if ((uintptr_t)q % 4096 || posix_memalign(&m, 256, 1000) ||
	    (uintptr_t)m % 256 || malloc_usable_size(q) < 100)
		return 1;
	free(q);
	free(m);
	free(p);
	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], &ret);
		all = all * 65599 + (uintptr_t)ret;
	}
	for (i = 0; i < THREADS; i++)
		sum_and_free(atomic_exchange(&inbox[i], NULL));
	printf("mt_prog checksum %llu\n", (unsigned long long)all);
	return 0;
}
