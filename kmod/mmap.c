// SPDX-License-Identifier: GPL-2.0
/*
 * Mapping buffers: one PMD entry per 2 MiB page, one PUD entry per 1 GiB
 * page, inserted by the huge_fault handler; never a 4 KiB PTE.  Mappings are
 * shared only, at addresses aligned to the buffer's page size, and can be
 * split, moved or cut only at page-size boundaries.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/pagemap.h>
#include <linux/ptrace.h>
#include <linux/sched/task_stack.h>
#include <asm/syscall.h>
#ifdef CONFIG_IA32_EMULATION
#include <asm/unistd_32_ia32.h>
#endif
#include <uapi/linux/hpalloc.h>

#include "compat.h"
#include "internal.h"

/*
 * The size of the entries a vma maps: the buffer's page size, except that
 * a dma-buf's mapping (its file is the dma-buf's, not the device's) of
 * 1 GiB pages uses 2 MiB entries.  mremap() cannot move a huge PUD (see
 * hpa_get_unmapped_area()), and a dma-buf's file has no get_unmapped_area()
 * of ours in which to refuse the move.
 */
static unsigned int hpa_vma_order(struct vm_area_struct *vma)
{
	struct hpa_buffer *buf = vma->vm_private_data;

	if (vma->vm_file->f_op->mmap != hpa_mmap)
		return min_t(unsigned int, buf->order, PMD_ORDER);
	return buf->order;
}

/* The buffer's page size: what splits, moves and cuts must be aligned to. */
static unsigned long hpa_vma_page_size(struct vm_area_struct *vma)
{
	struct hpa_buffer *buf = vma->vm_private_data;

	return PAGE_SIZE << buf->order;
}

static void hpa_vm_open(struct vm_area_struct *vma)
{
	hpa_buffer_get(vma->vm_private_data);
}

static void hpa_vm_close(struct vm_area_struct *vma)
{
	hpa_buffer_put(vma->vm_private_data);
}

static int hpa_vm_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	if (!IS_ALIGNED(addr, hpa_vma_page_size(vma))) {
		pr_info_ratelimited("%s: split at %#lx is not page-size aligned\n",
				    current->comm, addr);
		return -EINVAL;
	}
	return 0;
}

static int hpa_vm_mremap(struct vm_area_struct *vma)
{
	/* a 1 GiB mapping never gets here: see hpa_get_unmapped_area() */
	if (!IS_ALIGNED(vma->vm_start, hpa_vma_page_size(vma))) {
		pr_info_ratelimited("%s: mremap to unaligned %#lx refused\n",
				    current->comm, vma->vm_start);
		return -EINVAL;
	}
	return 0;
}

static int hpa_vm_mprotect(struct vm_area_struct *vma, unsigned long start,
			   unsigned long end, unsigned long newflags)
{
	struct hpa_buffer *buf = vma->vm_private_data;

	if (buf->size == HPA_1G && !HPALLOC_HAVE_PUD_MPROTECT) {
		pr_info_ratelimited("%s: mprotect of 1 GiB pages is not supported by this kernel\n",
				    current->comm);
		return -EINVAL;
	}
	return 0;
}

static unsigned long hpa_vm_pagesize(struct vm_area_struct *vma)
{
	return PAGE_SIZE << hpa_vma_order(vma);
}

/* A 4 KiB fault means the huge one was refused: never map 4 KiB. */
static vm_fault_t hpa_vm_fault(struct vm_fault *vmf)
{
	pr_info_ratelimited("%s: 4 KiB fault at %#lx refused (huge pages disabled for this process?)\n",
			    current->comm, vmf->address);
	return VM_FAULT_SIGBUS;
}

vm_fault_t hpalloc_huge_fault(struct vm_fault *vmf, unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	struct hpa_buffer *buf = vma->vm_private_data;
	unsigned long size = PAGE_SIZE << order;
	unsigned long haddr = vmf->address & ~(size - 1);
	bool write = (vmf->flags & FAULT_FLAG_WRITE) ||
		     (vma->vm_flags & VM_WRITE);
	unsigned long pgoff, idx, pfn;
	pfn_t pfnt;

	if (order == 0)
		return VM_FAULT_SIGBUS;
	/* a 2 MiB buffer (or PMD-only vma) under a PUD fault: PMD level */
	if (order > hpa_vma_order(vma))
		return VM_FAULT_FALLBACK;
	if (order != PMD_ORDER && order != PUD_ORDER)
		return VM_FAULT_FALLBACK;
	if (haddr < vma->vm_start || haddr + size > vma->vm_end)
		return VM_FAULT_SIGBUS;

	pgoff = linear_page_index(vma, haddr) - buf->pgoff;
	idx = pgoff >> buf->order;
	if (idx >= buf->nr_pages)
		return VM_FAULT_SIGBUS;
	/* a 1 GiB page under a PMD (after a partial zap): its 2 MiB piece */
	pfn = page_to_pfn(buf->pages[idx]) +
	      (pgoff & ((1UL << buf->order) - 1));
	pfnt = hpalloc_pfn_t(pfn, buf->flags & HPA_BUF_PINNABLE);

	if (order == PUD_ORDER)
		return vmf_insert_pfn_pud(vmf, pfnt, write);
	return vmf_insert_pfn_pmd(vmf, pfnt, write);
}

static const struct vm_operations_struct hpa_vm_ops = {
	.open = hpa_vm_open,
	.close = hpa_vm_close,
	.may_split = hpa_vm_may_split,
	.mremap = hpa_vm_mremap,
	.mprotect = hpa_vm_mprotect,
	.fault = hpa_vm_fault,
	.huge_fault = HPALLOC_HUGE_FAULT,
	.pagesize = hpa_vm_pagesize,
};

/*
 * Let a checked vma map buf; the vma owns the reference the caller took.
 * The device's mmap and the dma-buf's come here.
 */
void hpa_vma_set_buffer(struct vm_area_struct *vma, struct hpa_buffer *buf)
{
	vma->vm_ops = &hpa_vm_ops;
	vma->vm_private_data = buf;
	vm_flags_clear(vma, VM_MAYEXEC);
	/* GUP may take pages only if they are compound (see compat.h) */
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP |
		     (buf->flags & HPA_BUF_PINNABLE ? VM_MIXEDMAP : VM_PFNMAP));
}

/*
 * What every mapping of a buffer (the device's or a dma-buf's) must be:
 * shared, not executable, and able to take huge faults.
 */
int hpa_vma_check_flags(struct vm_area_struct *vma)
{
	if (!(vma->vm_flags & VM_MAYSHARE)) {
		pr_info_ratelimited("%s: private mapping refused: use MAP_SHARED\n",
				    current->comm);
		return -EINVAL;
	}
	if (vma->vm_flags & VM_EXEC) {
		pr_info_ratelimited("%s: PROT_EXEC mapping refused\n",
				    current->comm);
		return -EPERM;
	}
	/*
	 * The fault path never calls huge_fault() for a vma with huge pages
	 * disabled, and a 4 KiB entry is never inserted: every touch would
	 * be SIGBUS.  Say so now.  From 6.7 MAP_STACK sets VM_NOHUGEPAGE.
	 */
	if (vma->vm_flags & VM_NOHUGEPAGE) {
		pr_info_ratelimited("%s: mapping with huge pages disabled (MAP_STACK or MADV_NOHUGEPAGE) refused\n",
				    current->comm);
		return -EINVAL;
	}
	if (test_bit(MMF_DISABLE_THP, &vma->vm_mm->flags)) {
		pr_info_ratelimited("%s: mapping refused: huge pages disabled for this process (PR_SET_THP_DISABLE)\n",
				    current->comm);
		return -EINVAL;
	}

	return 0;
}

/*
 * mmap at offset 0 makes a buffer of 2 MiB pages on the caller's node, as
 * big as the mapping; any other offset maps (part of) a buffer made by
 * HPALLOC_IOC_ALLOC on this open file.
 */
int hpa_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct hpa_file *hf = file->private_data;
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	unsigned long len = vma->vm_end - vma->vm_start;
	struct hpa_buffer *buf;
	unsigned long ps;
	int ret;

	ret = hpa_vma_check_flags(vma);
	if (ret)
		return ret;

	if (off == 0) {
		struct hpa_alloc_req req = {
			.size = HPA_2M,
			.policy = HPALLOC_POLICY_LOCAL,
		};

		if (!IS_ALIGNED(len, PMD_SIZE) || !IS_ALIGNED(vma->vm_start,
							      PMD_SIZE)) {
			pr_info_ratelimited("%s: mapping %#lx+%#lx is not 2 MiB aligned\n",
					    current->comm, vma->vm_start, len);
			return -EINVAL;
		}
		if (len >> PMD_SHIFT > UINT_MAX)
			return -ENOMEM;
		req.nr_pages = len >> PMD_SHIFT;
		buf = hpa_buffer_create(&req);
		if (IS_ERR(buf))
			return PTR_ERR(buf);
		buf->pgoff = 0;
	} else {
		u64 start;

		if (off < (1ULL << HPALLOC_HANDLE_SHIFT)) {
			pr_info_ratelimited("%s: offset %#llx is no handle\n",
					    current->comm, off);
			return -EINVAL;
		}
		buf = hpa_file_lookup(hf, off);
		if (!buf) {
			pr_info_ratelimited("%s: offset %#llx names no buffer of this file\n",
					    current->comm, off);
			return -ENXIO;
		}
		ps = PAGE_SIZE << buf->order;
		start = off - (buf->pgoff << PAGE_SHIFT);
		if (!IS_ALIGNED(start, ps) || !IS_ALIGNED(len, ps) ||
		    !IS_ALIGNED(vma->vm_start, ps)) {
			pr_info_ratelimited("%s: mapping %#lx+%#lx at offset %#llx is not aligned to %lu kB pages\n",
					    current->comm, vma->vm_start, len,
					    off, ps >> 10);
			hpa_buffer_put(buf);
			return -EINVAL;
		}
		if (start + len > hpa_buffer_bytes(buf)) {
			pr_info_ratelimited("%s: mapping %#lx bytes at offset %#llx is beyond the buffer\n",
					    current->comm, len, off);
			hpa_buffer_put(buf);
			return -ENXIO;
		}
	}

	hpa_vma_set_buffer(vma, buf);
	return 0;
}

/* The page size a mapping at pgoff will have, 0 if it names nothing. */
static unsigned long hpa_align_for(struct file *file, unsigned long pgoff)
{
	struct hpa_buffer *buf;
	unsigned long ps;

	if (!pgoff)
		return PMD_SIZE;
	buf = hpa_file_lookup(file->private_data, (u64)pgoff << PAGE_SHIFT);
	if (!buf)
		return 0;
	ps = PAGE_SIZE << buf->order;
	hpa_buffer_put(buf);
	return ps;
}

/*
 * Is the current system call mremap()?  The kernel calls the file's
 * get_unmapped_area() for an mremap() that moves a mapping, before it moves
 * any page table entry, and that is the last point where a driver can
 * refuse the move (see hpa_get_unmapped_area()).
 */
static bool hpa_in_mremap(void)
{
	struct pt_regs *regs = current_pt_regs();
	long nr = syscall_get_nr(current, regs);

#ifdef CONFIG_IA32_EMULATION
	if (in_ia32_syscall())
		return nr == __NR_ia32_mremap;
#endif
#ifdef __X32_SYSCALL_BIT
	nr &= ~(long)__X32_SYSCALL_BIT;
#endif
	return nr == __NR_mremap;
}

/* The first argument of the current system call (mremap's old address). */
static unsigned long hpa_syscall_arg0(void)
{
	unsigned long args[6];

	syscall_get_arguments(current, current_pt_regs(), args);
	return args[0];
}

/*
 * Is this mremap() about to move a mapping of 1 GiB pages?  mremap() names
 * the old address in its first argument; the caller holds mmap_lock.
 */
static bool hpa_mremap_moves_pud(struct file *file)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	unsigned long old;

	if (!mm || !hpa_in_mremap())
		return false;
	old = hpalloc_untagged_addr(mm, hpa_syscall_arg0());
	vma = vma_lookup(mm, old);
	if (!vma || vma->vm_file != file || vma->vm_ops != &hpa_vm_ops)
		return false;
	return ((struct hpa_buffer *)vma->vm_private_data)->size == HPA_1G;
}

/* Like device-dax: ask for len + align, then move up to the alignment. */
unsigned long hpa_get_unmapped_area(struct file *file, unsigned long addr,
				    unsigned long len, unsigned long pgoff,
				    unsigned long flags)
{
	unsigned long align, len_align, area;

	/*
	 * mremap() cannot move a huge PUD entry: move_page_tables() looks it
	 * up with get_old_pud(), whose pud_none_or_clear_bad() takes a huge
	 * PUD for a corrupt table, logs "bad pud" and clears it without a TLB
	 * flush (6.1 and 6.12), so the old address keeps reaching the page
	 * after the move and after the buffer is gone.  vm_ops->mremap runs
	 * only after that, so refuse here, the last hook before the move
	 * (mremap_to() and the MREMAP_MAYMOVE path both ask for the area).
	 */
	if (hpa_mremap_moves_pud(file)) {
		pr_info_ratelimited("%s: mremap of a 1 GiB page mapping refused\n",
				    current->comm);
		return -EINVAL;
	}
	if (flags & MAP_FIXED)
		goto plain;
	align = hpa_align_for(file, pgoff);
	if (!align || len & (align - 1) || addr & (align - 1))
		goto plain;
	len_align = len + align;
	if (len_align < len)
		goto plain;
	area = hpalloc_mm_get_unmapped_area(file, addr, len_align, pgoff,
					    flags);
	if (IS_ERR_VALUE(area))
		goto plain;
	if (addr && area == addr)
		return addr;
	return round_up(area, align);
plain:
	return hpalloc_mm_get_unmapped_area(file, addr, len, pgoff, flags);
}
