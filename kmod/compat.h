/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels hpalloc builds for (Debian's 6.1 and
 * 6.12) lives here, so that the rest of the module reads as plain code for
 * the newest kernel.
 */
#ifndef _HPALLOC_COMPAT_H
#define _HPALLOC_COMPAT_H

#include <linux/version.h>
#include <linux/mm.h>
#include <linux/huge_mm.h>
#include <linux/memcontrol.h>
#include <linux/pfn_t.h>
#include <linux/gfp.h>
#include <linux/fs.h>
#include <linux/shrinker.h>
#include <linux/uaccess.h>
#ifdef CONFIG_X86
#include <asm/cpufeature.h>
#endif

#ifndef PMD_ORDER
#define PMD_ORDER	(PMD_SHIFT - PAGE_SHIFT)
#endif
#ifndef PUD_ORDER
#define PUD_ORDER	(PUD_SHIFT - PAGE_SHIFT)
#endif

/* 6.3 added vm_flags_set(); before it vm_flags was written directly. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

static inline void vm_flags_clear(struct vm_area_struct *vma,
				  vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}
#endif

/*
 * huge_fault() took an enum page_entry_size before 6.6 and takes the page
 * order since.  HPALLOC_HUGE_FAULT names the function to put in vm_ops.
 */
vm_fault_t hpalloc_huge_fault(struct vm_fault *vmf, unsigned int order);
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 6, 0)
static inline vm_fault_t hpalloc_huge_fault_pe(struct vm_fault *vmf,
					       enum page_entry_size pe_size)
{
	unsigned int order = 0;

	if (pe_size == PE_SIZE_PMD)
		order = PMD_ORDER;
	else if (pe_size == PE_SIZE_PUD)
		order = PUD_ORDER;
	return hpalloc_huge_fault(vmf, order);
}

#define HPALLOC_HUGE_FAULT	hpalloc_huge_fault_pe
#else
#define HPALLOC_HUGE_FAULT	hpalloc_huge_fault
#endif

/*
 * Before 6.12 the fault path only calls huge_fault() for a special (PFNMAP
 * or MIXEDMAP) file vma whose inode is DAX; device-dax marks its character
 * device inode S_DAX for that.  A character device is never "fsdax", so GUP
 * treats it like device-dax, not like a DAX file system.
 */
static inline void hpalloc_inode_enable_huge_fault(struct inode *inode)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)
	if (!(inode->i_flags & S_DAX))
		inode_set_flags(inode, S_DAX, S_DAX);
#endif
}

/*
 * The pfn_t to insert for a page that GUP must not take references on.
 * From 6.12 huge PFNMAP entries are marked special and GUP refuses them.
 * Before, GUP-fast takes a reference on the struct page behind any huge
 * entry; a devmap entry makes it look up a dev_pagemap instead, which fails
 * for ordinary memory, so GUP-fast gives up and the slow path refuses the
 * VM_PFNMAP vma with EFAULT.
 */
static inline pfn_t hpalloc_pfn_t(unsigned long pfn, bool pinnable)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)
	if (!pinnable)
		return __pfn_to_pfn_t(pfn, PFN_DEV | PFN_MAP);
#endif
	return __pfn_to_pfn_t(pfn, 0);
}

/*
 * mprotect() of a huge PUD entry: change_pud_range() learnt about huge
 * entries with the huge PFNMAP work of 6.12; before, it takes one for a bad
 * page table and clears it.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)
#define HPALLOC_HAVE_PUD_MPROTECT	0
#else
#define HPALLOC_HAVE_PUD_MPROTECT	1
#endif

/* mm_get_unmapped_area() appeared in 6.10; before, a function pointer. */
static inline unsigned long
hpalloc_mm_get_unmapped_area(struct file *file, unsigned long addr,
			     unsigned long len, unsigned long pgoff,
			     unsigned long flags)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 10, 0)
	return current->mm->get_unmapped_area(file, addr, len, pgoff, flags);
#else
	return mm_get_unmapped_area(current->mm, file, addr, len, pgoff, flags);
#endif
}

/*
 * alloc_contig_range() makes one compound folio when asked with __GFP_COMP
 * from 6.9 (and free_contig_range() frees it as one); before, the range is
 * order-0 pages.  A compound folio is what GUP needs to count references.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 9, 0)
#define HPALLOC_CONTIG_GFP_COMP		0
#define HPALLOC_CONTIG_COMPOUND		false
#else
#define HPALLOC_CONTIG_GFP_COMP		__GFP_COMP
#define HPALLOC_CONTIG_COMPOUND		true
#endif

/* Shrinkers are allocated by the core from 6.7. */
typedef unsigned long (*hpalloc_shrink_fn)(struct shrinker *s,
					  struct shrink_control *sc);

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
static inline struct shrinker *
hpalloc_shrinker_create(hpalloc_shrink_fn count, hpalloc_shrink_fn scan)
{
	struct shrinker *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
	s->flags = SHRINKER_NUMA_AWARE;
	if (register_shrinker(s, "hpalloc")) {
		kfree(s);
		return NULL;
	}
	return s;
}

static inline void hpalloc_shrinker_destroy(struct shrinker *s)
{
	if (!s)
		return;
	unregister_shrinker(s);
	kfree(s);
}
#else
static inline struct shrinker *
hpalloc_shrinker_create(hpalloc_shrink_fn count, hpalloc_shrink_fn scan)
{
	struct shrinker *s = shrinker_alloc(SHRINKER_NUMA_AWARE, "hpalloc");

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
	shrinker_register(s);
	return s;
}

static inline void hpalloc_shrinker_destroy(struct shrinker *s)
{
	shrinker_free(s);
}
#endif

/* Address tags (LAM) exist from 6.4; before, an address is just that. */
static inline unsigned long hpalloc_untagged_addr(struct mm_struct *mm,
						  unsigned long addr)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
	return untagged_addr(addr);
#else
	return untagged_addr_remote(mm, addr);
#endif
}

/* Symbol namespaces are string literals from 6.13. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
#define HPALLOC_IMPORT_NS_DMA_BUF	MODULE_IMPORT_NS(DMA_BUF)
#else
#define HPALLOC_IMPORT_NS_DMA_BUF	MODULE_IMPORT_NS("DMA_BUF")
#endif

/* Can this machine map 1 GiB pages with one PUD entry? */
static inline bool hpalloc_have_pud(void)
{
#if defined(CONFIG_HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD) && defined(CONFIG_X86)
	return boot_cpu_has(X86_FEATURE_GBPAGES);
#else
	return false;
#endif
}

/*
 * Does the kernel charge __GFP_ACCOUNT pages to memory cgroups?  6.1 calls
 * it memcg_kmem_enabled(), 6.12 memcg_kmem_online(); off until the first
 * cgroup below the root exists, and for good with cgroup.memory=nokmem.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
static inline bool hpalloc_memcg_kmem_on(void)
{
	return memcg_kmem_enabled();
}
#else
static inline bool hpalloc_memcg_kmem_on(void)
{
	return memcg_kmem_online();
}
#endif

#endif /* _HPALLOC_COMPAT_H */
