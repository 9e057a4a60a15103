// SPDX-License-Identifier: GPL-2.0
/*
 * Per-thread cost: N threads (default 256) each hold about 10 KB in small
 * blocks; once all hold them, prints the process's resident set in KiB
 * ("rss_kib N") and exits.  A plain glibc-API program: run-host.sh runs it
 * under LD_PRELOAD and bounds the number.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCKS	100
#define BSIZE	100

static pthread_barrier_t held, done;

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kib = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

static void *worker(void *arg)
{
	char *b[BLOCKS];
	int i;

	(void)arg;
	for (i = 0; i < BLOCKS; i++) {
		b[i] = malloc(BSIZE);
		if (!b[i])
			abort();
		memset(b[i], i, BSIZE);
	}
	pthread_barrier_wait(&held);
	pthread_barrier_wait(&done);
	for (i = 0; i < BLOCKS; i++)
		free(b[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 256, i;
	pthread_attr_t attr;
	pthread_t *t;

	t = calloc((size_t)n, sizeof(*t));
	if (!t || n < 1)
		return 2;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	pthread_barrier_init(&held, NULL, (unsigned int)n + 1);
	pthread_barrier_init(&done, NULL, (unsigned int)n + 1);
	for (i = 0; i < n; i++)
		if (pthread_create(&t[i], &attr, worker, NULL))
			return 3;
	pthread_barrier_wait(&held);
	printf("rss_kib %ld\n", rss_kib());
	pthread_barrier_wait(&done);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	free(t);
	return 0;
}
