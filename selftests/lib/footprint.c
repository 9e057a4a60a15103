// SPDX-License-Identifier: GPL-2.0
/*
 * A program whose heap holds TOTAL bytes (default 2 MiB) in blocks of SIZE
 * bytes (default 100), written once; prints its peak resident set in KiB
 * ("maxrss_kib N", VmHWM: getrusage's ru_maxrss would include the shell
 * that forked it, whose peak carries over exec) and its anonymous resident
 * memory ("anon_kib N", RssAnon).  `footprint 0` is start-up alone; a third argument
 * "keep" exits without freeing (what HPALLOC_STATS then shows is the heap).  A plain glibc-API
 * program: run-host.sh runs it under LD_PRELOAD and bounds the number.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A "Key:   N kB" line of /proc/self/status, in KiB; -1 if missing. */
static long status_kib(const char *key)
{
	size_t len = strlen(key);
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len))
			kib = strtol(line + len, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	long total = argc > 1 ? atol(argv[1]) : 2L << 20;
	long size = argc > 2 ? atol(argv[2]) : 100, n, i;
	char **v;

	if (size < 1 || total < 0)
		return 2;
	n = total / size;
	v = malloc((size_t)(n ? n : 1) * sizeof(*v));
	if (!v)
		return 3;
	for (i = 0; i < n; i++) {
		v[i] = malloc((size_t)size);
		if (!v[i])
			return 4;
		memset(v[i], 1, (size_t)size);
	}
	printf("maxrss_kib %ld\n", status_kib("VmHWM:"));
	/* what the allocator itself made resident, without shared library text */
	printf("anon_kib %ld\n", status_kib("RssAnon:"));
	if (argc > 3 && !strcmp(argv[3], "keep"))
		return 0;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return 0;
}
