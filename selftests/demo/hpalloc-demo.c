// SPDX-License-Identifier: GPL-2.0
/*
 * What hpalloc does, shown in a guest: huge pages from /dev/hpalloc against
 * ordinary anonymous memory, with what the kernel itself reports about them.
 */
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/hpalloc.h>

#include "../module/hpa_util.h"

#define DEMO_LEN (8 * SZ_2M)

static void touch(char *p, size_t len, long *faults)
{
	long before = hpa_minflt();
	size_t off;

	for (off = 0; off < len; off += 4096)
		p[off] = 1;
	*faults = hpa_minflt() - before;
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void plain_mmap(int fd, int cpu)
{
	long faults, kb;
	uint64_t phys;
	size_t i;
	char *p;

	pin_cpu(cpu);
	p = mmap(NULL, DEMO_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("  mmap /dev/hpalloc");
		return;
	}
	touch(p, DEMO_LEN, &faults);
	kb = hpa_smaps_kernel_page_kb(p);
	printf("  cpu %d (node %d): mmap(/dev/hpalloc, %lu MiB) = %p  (2 MiB aligned: %s)\n",
	       cpu, hpa_node_of_cpu(cpu), DEMO_LEN >> 20, p,
	       (uintptr_t)p % SZ_2M ? "no" : "yes");
	printf("    touched %lu 4 KiB pages: %ld page faults = %.2f per 2 MiB page; smaps KernelPageSize %ld kB\n",
	       DEMO_LEN / 4096, faults, (double)faults / (DEMO_LEN / SZ_2M), kb);
	printf("    physical pages:");
	for (i = 0; i < DEMO_LEN; i += SZ_2M) {
		phys = hpa_pagemap_phys(p + i);
		printf(" %#llx(node %d)", (unsigned long long)phys,
		       hpa_node_of_phys(phys));
	}
	printf("\n");
	munmap(p, DEMO_LEN);
}

static void anon_baseline(void)
{
	long faults;
	char *p;

	p = mmap(NULL, DEMO_LEN, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	madvise(p, DEMO_LEN, MADV_NOHUGEPAGE);
	touch(p, DEMO_LEN, &faults);
	printf("  baseline: anonymous 4 KiB memory, same %lu MiB: %ld page faults\n",
	       DEMO_LEN >> 20, faults);
	munmap(p, DEMO_LEN);
}

/* The ioctl ABI: a buffer with a page size, a policy and its pages' facts. */
static void ioctl_buffer(int fd, const char *what, __u32 page_size,
			 __u32 policy, __u64 nodemask, __u32 flags, size_t size)
{
	struct hpalloc_alloc a = {
		.size = size, .page_size = page_size, .policy = policy,
		.nodemask = nodemask, .flags = flags,
	};
	struct hpalloc_page_info info[8];
	struct hpalloc_query q = { 0 };
	struct hpalloc_free f = { 0 };
	long faults;
	unsigned int i;
	char *p;

	printf("  %s:\n", what);
	if (ioctl(fd, HPALLOC_IOC_ALLOC, &a)) {
		printf("    HPALLOC_IOC_ALLOC: %s\n", strerror(errno));
		return;
	}
	p = mmap(NULL, a.alloc_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 a.offset);
	if (p == MAP_FAILED) {
		printf("    mmap: %s\n", strerror(errno));
		goto free;
	}
	touch(p, a.alloc_size, &faults);
	printf("    %llu MiB in %u page(s) of %u MiB at %p, nodes mask %#llx: %ld fault(s), KernelPageSize %ld kB\n",
	       (unsigned long long)a.alloc_size >> 20, a.nr_pages,
	       page_size >> 20, p, (unsigned long long)a.nodes, faults,
	       hpa_smaps_kernel_page_kb(p));
	q.offset = a.offset;
	q.flags = HPALLOC_QUERY_PHYS;
	q.pages_ptr = (uintptr_t)info;
	q.nr_entries = 8;
	if (ioctl(fd, HPALLOC_IOC_QUERY, &q)) {
		printf("    HPALLOC_IOC_QUERY: %s\n", strerror(errno));
	} else {
		printf("    contiguous: %s; pages (phys, node), checked against the nodes' memory ranges in sysfs and /proc/self/pagemap:\n",
		       q.out_flags & HPALLOC_BUF_CONTIG ? "yes" : "no");
		for (i = 0; i < q.nr_filled; i++) {
			uint64_t seen = hpa_pagemap_phys(p + (size_t)i * page_size);

			printf("      %#llx node %d  (sysfs ranges: node %d; pagemap: ",
			       (unsigned long long)info[i].phys, info[i].node,
			       hpa_node_of_phys(info[i].phys));
			if (seen)
				printf("%#llx)\n", (unsigned long long)seen);
			else
				printf("no pfn shown for a VM_PFNMAP mapping)\n");
		}
	}
	munmap(p, a.alloc_size);
free:
	f.offset = a.offset;
	if (ioctl(fd, HPALLOC_IOC_FREE, &f))
		printf("    HPALLOC_IOC_FREE: %s\n", strerror(errno));
}

int main(void)
{
	struct hpalloc_version v = { 0 };
	int fd, cpu, ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open("/dev/hpalloc", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror("open /dev/hpalloc");
		return 1;
	}
	printf("hpalloc demo: %d CPUs, %d NUMA nodes\n", ncpu,
	       hpa_nr_nodes_online());
	printf("1. plain mmap of /dev/hpalloc, from each CPU:\n");
	anon_baseline();
	for (cpu = 0; cpu < ncpu; cpu++)
		plain_mmap(fd, cpu);

	printf("2. the ioctl ABI:\n");
	if (ioctl(fd, HPALLOC_IOC_VERSION, &v)) {
		printf("  HPALLOC_IOC_VERSION: %s (not in this module yet)\n",
		       strerror(errno));
		close(fd);
		return 0;
	}
	printf("  api %u, features %#llx, page sizes %#x, %u node ids\n",
	       v.api, (unsigned long long)v.features, v.page_sizes,
	       v.nr_node_ids);
	ioctl_buffer(fd, "16 MiB of 2 MiB pages bound to node 2 (memory-only)",
		     HPALLOC_PAGE_SIZE_2M, HPALLOC_POLICY_BIND, 1 << 2, 0,
		     16 << 20);
	ioctl_buffer(fd, "8 MiB, physically contiguous",
		     HPALLOC_PAGE_SIZE_2M, HPALLOC_POLICY_LOCAL, 0,
		     HPALLOC_ALLOC_CONTIG, 8 << 20);
	ioctl_buffer(fd, "8 MiB interleaved over nodes 0-2",
		     HPALLOC_PAGE_SIZE_2M, HPALLOC_POLICY_INTERLEAVE, 7, 0,
		     8 << 20);
	if (v.page_sizes & HPALLOC_PAGE_SIZE_1G)
		ioctl_buffer(fd, "one 1 GiB page, on node 1 or 2",
			     HPALLOC_PAGE_SIZE_1G, HPALLOC_POLICY_BIND,
			     (1 << 1) | (1 << 2), 0, 1UL << 30);
	close(fd);
	return 0;
}
