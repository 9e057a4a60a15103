// SPDX-License-Identifier: MIT
/*
 * hpallocctl: what libhpalloc-user sees on this machine.
 *   hpallocctl            backend, device version, statistics
 *   hpallocctl classes    size classes and their internal waste
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/hpalloc.h>

#include "hpalloc.h"

static void print_device(void)
{
	struct hpalloc_version v = { 0 };
	int fd = open(HPALLOC_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("device:   %s: %s\n", HPALLOC_DEVICE, strerror(errno));
		return;
	}
	if (ioctl(fd, HPALLOC_IOC_VERSION, &v) != 0)
		printf("device:   HPALLOC_IOC_VERSION: %s\n", strerror(errno));
	else
		printf("device:   api %u features 0x%llx page sizes 0x%x "
		       "node ids %u\n", v.api, (unsigned long long)v.features,
		       v.page_sizes, v.nr_node_ids);
	close(fd);
}

static int print_classes(void)
{
	unsigned int i, n = hpa_size_classes();
	size_t prev = 0;

	printf("%5s %10s %12s\n", "class", "block", "max waste");
	for (i = 0; i < n; i++) {
		size_t s = hpa_class_size(i);

		/* Worst case: a request one byte above the previous class. */
		printf("%5u %10zu %11.1f%%\n", i, s,
		       100.0 * (double)(s - prev - 1) / (double)s);
		prev = s;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct hpa_stats st = { .size = sizeof(st) };
	unsigned int i;
	void *p;

	if (argc > 1 && !strcmp(argv[1], "classes"))
		return print_classes();
	if (argc > 1) {
		fprintf(stderr, "usage: %s [classes]\n", argv[0]);
		return 2;
	}
	p = hpa_malloc(1);	/* start the library up */
	hpa_free(p);
	if (hpa_stats(&st) != 0) {
		perror("hpa_stats");
		return 1;
	}
	printf("backend:  %s\n", hpa_backend_name(st.backend));
	print_device();
	printf("reserved: %llu GiB\n",
	       (unsigned long long)(st.reserved_bytes >> 30));
	printf("mapped:   %llu bytes, retained %llu, in use %llu\n",
	       (unsigned long long)st.bytes_mapped,
	       (unsigned long long)st.bytes_retained,
	       (unsigned long long)st.bytes_in_use);
	printf("pages:    %llu x 2 MiB, %llu x 1 GiB; fallbacks %llu\n",
	       (unsigned long long)st.huge_pages_2m,
	       (unsigned long long)st.huge_pages_1g,
	       (unsigned long long)st.fallbacks);
	for (i = 0; i < HPA_BACKEND_MAX; i++)
		printf("  %-8s mapped %llu maps %llu failures %llu\n",
		       hpa_backend_name(i),
		       (unsigned long long)st.per_backend[i].bytes_mapped,
		       (unsigned long long)st.per_backend[i].maps,
		       (unsigned long long)st.per_backend[i].map_failures);
	return 0;
}
