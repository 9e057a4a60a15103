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
#include <uapi/linux/hpalloc.h>

#include "compat.h"
#include "internal.h"

static unsigned long hpa_vma_page_size(struct vm_area_struct *vma)
{
	struct hpa_buffer *buf = vma->vm_private_data;

	return PAGE_SIZE << buf->order;
}

/* Find the buffer a (non-zero) mmap offset names; takes a reference. */
struct hpa_buffer *hpa_file_lookup(struct hpa_file *hf, u64 offset)
{
	unsigned long id = offset >> HPALLOC_HANDLE_SHIFT;
	struct hpa_buffer *buf;

	xa_lock(&hf->buffers);
	buf = xa_load(&hf->buffers, id);
	if (buf)
		hpa_buffer_get(buf);
	xa_unlock(&hf->buffers);
	return buf;
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
	return hpa_vma_page_size(vma);
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
	/* a 2 MiB buffer under a PUD fault: go on to the PMD level */
	if (order > buf->order)
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

	if (off == 0) {
		struct hpa_alloc_req req = {
			.size = HPA_2M,
			.policy = HPALLOC_POLICY_LOCAL,
			.from_mmap = true,
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

/* Like device-dax: ask for len + align, then move up to the alignment. */
unsigned long hpa_get_unmapped_area(struct file *file, unsigned long addr,
				    unsigned long len, unsigned long pgoff,
				    unsigned long flags)
{
	unsigned long align, len_align, area;

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
