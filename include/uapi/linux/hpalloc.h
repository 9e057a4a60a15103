/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note OR MIT */
/*
 * hpalloc: physically contiguous 2 MiB / 1 GiB pages for user space.
 *
 * This header is the whole ABI between hpalloc.ko and its users.  Rules:
 *  - every struct is a multiple of 8 bytes, with explicit padding;
 *  - every struct has a flags field with a VALID mask; unknown flags and
 *    non-zero reserved fields are refused with EINVAL;
 *  - the struct size is taken from the ioctl command (_IOC_SIZE), so a caller
 *    built against an older, smaller struct keeps working (the missing tail
 *    reads as zero) and a caller with a newer, larger struct works as long as
 *    the bytes this module does not know are zero (else E2BIG);
 *  - output fields come last; a meaning is never reused: new behaviour gets a
 *    new flag or a new ioctl.
 */
#ifndef _UAPI_LINUX_HPALLOC_H
#define _UAPI_LINUX_HPALLOC_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define HPALLOC_DEVICE		"/dev/hpalloc"
#define HPALLOC_API_VERSION	1

#define HPALLOC_PAGE_SIZE_2M	(1U << 21)
#define HPALLOC_PAGE_SIZE_1G	(1U << 30)

/*
 * mmap offsets.  A buffer made by HPALLOC_IOC_ALLOC is mapped at the offset
 * the ioctl returns (plus any multiple of its page size, to map part of it).
 * Offsets are private to the open file: another process cannot reach a
 * buffer by guessing one.  An mmap at offset 0 without an ioctl makes an
 * anonymous buffer of 2 MiB pages on the caller's node, sized by the mapping.
 */
#define HPALLOC_HANDLE_SHIFT	40

/* hpalloc_version.flags: none defined yet */
#define HPALLOC_VERSION_VALID	0U

/* HPALLOC_IOC_VERSION: the handshake.  Nothing is read but flags. */
struct hpalloc_version {
	__u32 flags;		/* in: HPALLOC_VERSION_VALID bits only */
	__u32 api;		/* out: HPALLOC_API_VERSION */
	__u64 features;		/* out: HPALLOC_FEAT_* */
	__u64 ioctls;		/* out: bit (1 << _IOC_NR(cmd)) per ioctl */
	__u32 page_sizes;	/* out: HPALLOC_PAGE_SIZE_* that can be asked */
	__u32 nr_node_ids;	/* out: highest possible node id + 1 */
	__u64 reserved[4];	/* out: zero */
};

#define HPALLOC_FEAT_PMD	(1ULL << 0)	/* 2 MiB pages, one PMD each */
#define HPALLOC_FEAT_PUD	(1ULL << 1)	/* 1 GiB pages, one PUD each */
#define HPALLOC_FEAT_CONTIG	(1ULL << 2)	/* HPALLOC_ALLOC_CONTIG */
#define HPALLOC_FEAT_PHYS	(1ULL << 3)	/* this caller may read phys */
#define HPALLOC_FEAT_GUP	(1ULL << 4)	/* pages can be pinned (O_DIRECT) */
#define HPALLOC_FEAT_DMABUF	(1ULL << 5)	/* HPALLOC_IOC_EXPORT_DMABUF */

/* NUMA placement of an allocation (hpalloc_alloc.policy). */
enum hpalloc_policy {
	HPALLOC_POLICY_LOCAL = 0,	/* the calling CPU's node; nodemask 0 */
	HPALLOC_POLICY_BIND = 1,	/* only nodes in nodemask, lowest first */
	HPALLOC_POLICY_PREFERRED = 2,	/* first node in mask, then any */
	HPALLOC_POLICY_INTERLEAVE = 3,	/* page i on the i-th node of mask */
	HPALLOC_POLICY_MAX
};

/* hpalloc_alloc.flags */
#define HPALLOC_ALLOC_CONTIG	(1U << 0)	/* one physical range */
#define HPALLOC_ALLOC_VALID	(HPALLOC_ALLOC_CONTIG)

/* HPALLOC_IOC_ALLOC: make a buffer; map it with mmap(offset). */
struct hpalloc_alloc {
	__u64 size;		/* in: bytes, rounded up to page_size */
	__u32 flags;		/* in: HPALLOC_ALLOC_* */
	__u32 page_size;	/* in: HPALLOC_PAGE_SIZE_*, 0 means 2 MiB */
	__u32 policy;		/* in: enum hpalloc_policy */
	__u32 reserved_in;	/* in: must be 0 */
	__u64 nodemask;		/* in: nodes 0..63 for BIND/PREFERRED/INTERLEAVE */
	__u64 offset;		/* out: mmap offset, the buffer's handle */
	__u64 alloc_size;	/* out: size rounded up to the page size */
	__u64 nodes;		/* out: mask of the nodes the pages came from */
	__u32 nr_pages;		/* out: pages in the buffer */
	__u32 reserved_out;	/* out: zero */
};

/* hpalloc_free.flags: none defined yet */
#define HPALLOC_FREE_VALID	0U

/* HPALLOC_IOC_FREE: drop the handle; the pages go when unmapped too. */
struct hpalloc_free {
	__u64 offset;		/* in: handle from HPALLOC_IOC_ALLOC */
	__u32 flags;		/* in: HPALLOC_FREE_VALID bits only */
	__u32 reserved;		/* in: must be 0 */
};

/* One page of a buffer, as HPALLOC_IOC_QUERY reports it. */
struct hpalloc_page_info {
	__u64 phys;		/* physical address; 0 without HPALLOC_QUERY_PHYS */
	__s32 node;		/* node the page lives on */
	__u32 reserved;
};

/* hpalloc_query.flags */
#define HPALLOC_QUERY_PHYS	(1U << 0)	/* needs CAP_SYS_RAWIO: EPERM */
#define HPALLOC_QUERY_VALID	(HPALLOC_QUERY_PHYS)

/* hpalloc_query.out_flags */
#define HPALLOC_BUF_CONTIG	(1U << 0)	/* physically contiguous */

/*
 * HPALLOC_IOC_QUERY: describe a buffer.  Fills up to nr_entries page records,
 * starting with page first_page, into the array at pages_ptr.
 */
struct hpalloc_query {
	__u64 offset;		/* in: handle */
	__u32 flags;		/* in: HPALLOC_QUERY_* */
	__u32 first_page;	/* in: index of the first page to report */
	__u64 pages_ptr;	/* in: struct hpalloc_page_info[nr_entries] */
	__u32 nr_entries;	/* in: capacity of pages_ptr (may be 0) */
	__u32 reserved_in;	/* in: must be 0 */
	__u64 alloc_size;	/* out: buffer size */
	__u32 page_size;	/* out: bytes */
	__u32 nr_pages;		/* out: pages in the buffer */
	__u32 nr_filled;	/* out: records written */
	__u32 out_flags;	/* out: HPALLOC_BUF_* */
	__u64 nodes;		/* out: mask of nodes holding the pages */
};

/* hpalloc_export_dmabuf.flags */
#define HPALLOC_EXPORT_WRITE	(1U << 0)	/* fd is O_RDWR, else O_RDONLY */
#define HPALLOC_EXPORT_CLOEXEC	(1U << 1)	/* fd is O_CLOEXEC */
#define HPALLOC_EXPORT_VALID	(HPALLOC_EXPORT_WRITE | HPALLOC_EXPORT_CLOEXEC)

/*
 * HPALLOC_IOC_EXPORT_DMABUF: a dma-buf file for a buffer.  It keeps the
 * buffer alive after the handle and this open file are gone, can be passed
 * to another process (SCM_RIGHTS) and mapped there at offset 0 (at an
 * address aligned to the page size), and imported by drivers.  Without
 * HPALLOC_EXPORT_WRITE a CPU mapping of it cannot be writable; what a
 * device that imports it does is up to that driver.
 */
struct hpalloc_export_dmabuf {
	__u64 offset;		/* in: handle */
	__u32 flags;		/* in: HPALLOC_EXPORT_* */
	__u32 reserved_in;	/* in: must be 0 */
	__s32 fd;		/* out: the dma-buf file descriptor */
	__u32 reserved_out;	/* out: zero */
};

#define HPALLOC_IOC_MAGIC	0xB7

#define HPALLOC_IOC_VERSION	_IOWR(HPALLOC_IOC_MAGIC, 0x00, struct hpalloc_version)
#define HPALLOC_IOC_ALLOC	_IOWR(HPALLOC_IOC_MAGIC, 0x01, struct hpalloc_alloc)
#define HPALLOC_IOC_FREE	_IOW(HPALLOC_IOC_MAGIC, 0x02, struct hpalloc_free)
#define HPALLOC_IOC_QUERY	_IOWR(HPALLOC_IOC_MAGIC, 0x03, struct hpalloc_query)
#define HPALLOC_IOC_EXPORT_DMABUF \
	_IOWR(HPALLOC_IOC_MAGIC, 0x04, struct hpalloc_export_dmabuf)

#endif /* _UAPI_LINUX_HPALLOC_H */
