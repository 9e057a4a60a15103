// SPDX-License-Identifier: GPL-2.0
/*
 * dma-buf export of a buffer (HPALLOC_IOC_EXPORT_DMABUF).  The dma-buf holds
 * a reference on the buffer, so the pages stay while any fd, attachment or
 * mapping of it exists, and go back to their pools (through zeroing) with
 * the last one.  CPU mappings of the dma-buf are the device's own: one PMD
 * or PUD entry per page.  Devices get an sg_table of whole huge pages, one
 * entry per physically contiguous run.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <uapi/linux/hpalloc.h>

#include "compat.h"
#include "internal.h"

HPALLOC_IMPORT_NS_DMA_BUF;

struct hpa_dmabuf {
	struct hpa_buffer *buf;
	struct mutex lock;		/* attachments and their mapped flags */
	struct list_head attachments;
};

struct hpa_dmabuf_attachment {
	struct device *dev;
	struct sg_table sgt;
	struct list_head node;
	bool mapped;
};

/* The longest run one scatterlist entry can describe, in bytes. */
#define HPA_SG_MAX_LEN	(UINT_MAX & PAGE_MASK)

/* Pages that follow each other physically share an entry. */
static unsigned int hpa_dmabuf_runs(const struct hpa_buffer *buf)
{
	unsigned long ps = PAGE_SIZE << buf->order, len = ps;
	unsigned int i, n = 1;

	for (i = 1; i < buf->nr_pages; i++) {
		if (page_to_pfn(buf->pages[i]) ==
		    page_to_pfn(buf->pages[i - 1]) + (1UL << buf->order) &&
		    len + ps <= HPA_SG_MAX_LEN) {
			len += ps;
			continue;
		}
		n++;
		len = ps;
	}
	return n;
}

static int hpa_dmabuf_fill_sgt(struct sg_table *sgt,
			       const struct hpa_buffer *buf)
{
	unsigned long ps = PAGE_SIZE << buf->order;
	struct scatterlist *sg;
	unsigned int i;
	int ret;

	ret = sg_alloc_table(sgt, hpa_dmabuf_runs(buf), GFP_KERNEL);
	if (ret)
		return ret;
	sg = sgt->sgl;
	sg_set_page(sg, buf->pages[0], ps, 0);
	for (i = 1; i < buf->nr_pages; i++) {
		if (page_to_pfn(buf->pages[i]) ==
		    page_to_pfn(buf->pages[i - 1]) + (1UL << buf->order) &&
		    sg->length + ps <= HPA_SG_MAX_LEN) {
			sg->length += ps;
			continue;
		}
		sg = sg_next(sg);
		sg_set_page(sg, buf->pages[i], ps, 0);
	}
	return 0;
}

static int hpa_dmabuf_attach(struct dma_buf *dmabuf,
			     struct dma_buf_attachment *attach)
{
	struct hpa_dmabuf *hd = dmabuf->priv;
	struct hpa_dmabuf_attachment *a;
	int ret;

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	ret = hpa_dmabuf_fill_sgt(&a->sgt, hd->buf);
	if (ret) {
		kfree(a);
		return ret;
	}
	a->dev = attach->dev;
	INIT_LIST_HEAD(&a->node);
	attach->priv = a;
	mutex_lock(&hd->lock);
	list_add(&a->node, &hd->attachments);
	mutex_unlock(&hd->lock);
	return 0;
}

static void hpa_dmabuf_detach(struct dma_buf *dmabuf,
			      struct dma_buf_attachment *attach)
{
	struct hpa_dmabuf *hd = dmabuf->priv;
	struct hpa_dmabuf_attachment *a = attach->priv;

	mutex_lock(&hd->lock);
	list_del(&a->node);
	mutex_unlock(&hd->lock);
	sg_free_table(&a->sgt);
	kfree(a);
}

static struct sg_table *hpa_dmabuf_map(struct dma_buf_attachment *attach,
				       enum dma_data_direction dir)
{
	struct hpa_dmabuf *hd = attach->dmabuf->priv;
	struct hpa_dmabuf_attachment *a = attach->priv;
	int ret;

	ret = dma_map_sgtable(a->dev, &a->sgt, dir, 0);
	if (ret)
		return ERR_PTR(ret);
	mutex_lock(&hd->lock);
	a->mapped = true;
	mutex_unlock(&hd->lock);
	return &a->sgt;
}

static void hpa_dmabuf_unmap(struct dma_buf_attachment *attach,
			     struct sg_table *sgt,
			     enum dma_data_direction dir)
{
	struct hpa_dmabuf *hd = attach->dmabuf->priv;
	struct hpa_dmabuf_attachment *a = attach->priv;

	/* no CPU-access sync of a table that is being unmapped */
	mutex_lock(&hd->lock);
	a->mapped = false;
	mutex_unlock(&hd->lock);
	dma_unmap_sgtable(a->dev, sgt, dir, 0);
}

/*
 * The CPU mapping is cached; a device that does not snoop needs the
 * caches written back before it reads and invalidated before the CPU
 * reads what it wrote.
 */
static void hpa_dmabuf_sync(struct hpa_dmabuf *hd, enum dma_data_direction dir,
			    bool for_cpu)
{
	struct hpa_dmabuf_attachment *a;

	mutex_lock(&hd->lock);
	list_for_each_entry(a, &hd->attachments, node) {
		if (!a->mapped)
			continue;
		if (for_cpu)
			dma_sync_sgtable_for_cpu(a->dev, &a->sgt, dir);
		else
			dma_sync_sgtable_for_device(a->dev, &a->sgt, dir);
	}
	mutex_unlock(&hd->lock);
}

static int hpa_dmabuf_begin_cpu_access(struct dma_buf *dmabuf,
				       enum dma_data_direction dir)
{
	hpa_dmabuf_sync(dmabuf->priv, dir, true);
	return 0;
}

static int hpa_dmabuf_end_cpu_access(struct dma_buf *dmabuf,
				     enum dma_data_direction dir)
{
	hpa_dmabuf_sync(dmabuf->priv, dir, false);
	return 0;
}

/*
 * The same rules as a mapping of the device: shared, not executable, at
 * an address, length and offset aligned to the page size.  The core has
 * checked that the range lies inside the dma-buf.
 */
static int hpa_dmabuf_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	struct hpa_dmabuf *hd = dmabuf->priv;
	struct hpa_buffer *buf = hd->buf;
	unsigned long ps = PAGE_SIZE << buf->order;
	unsigned long len = vma->vm_end - vma->vm_start;
	int ret;

	ret = hpa_vma_check_flags(vma);
	if (ret)
		return ret;
	if (!IS_ALIGNED(vma->vm_start, ps) || !IS_ALIGNED(len, ps) ||
	    !IS_ALIGNED((u64)vma->vm_pgoff << PAGE_SHIFT, ps)) {
		pr_info_ratelimited("%s: dma-buf mapping %#lx+%#lx at offset %#llx is not aligned to %lu kB pages\n",
				    current->comm, vma->vm_start, len,
				    (u64)vma->vm_pgoff << PAGE_SHIFT, ps >> 10);
		return -EINVAL;
	}
	/* the fault handler counts offsets from the buffer's handle */
	vma->vm_pgoff += buf->pgoff;
	hpa_buffer_get(buf);
	hpa_vma_set_buffer(vma, buf);
	return 0;
}

static void hpa_dmabuf_release(struct dma_buf *dmabuf)
{
	struct hpa_dmabuf *hd = dmabuf->priv;

	/* the last put gives the pages back (no lock of ours is held here) */
	hpa_buffer_put(hd->buf);
	kfree(hd);
}

static const struct dma_buf_ops hpa_dmabuf_ops = {
	.attach = hpa_dmabuf_attach,
	.detach = hpa_dmabuf_detach,
	.map_dma_buf = hpa_dmabuf_map,
	.unmap_dma_buf = hpa_dmabuf_unmap,
	.begin_cpu_access = hpa_dmabuf_begin_cpu_access,
	.end_cpu_access = hpa_dmabuf_end_cpu_access,
	.mmap = hpa_dmabuf_mmap,
	.release = hpa_dmabuf_release,
};

/*
 * A new dma-buf for buf, installed as a file descriptor (HPALLOC_EXPORT_*
 * flags).  Returns the fd or -errno; the dma-buf takes its own reference
 * on the buffer.
 */
struct file *hpa_dmabuf_export(struct hpa_buffer *buf, unsigned int flags)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct dma_buf *dmabuf;
	struct hpa_dmabuf *hd;

	hd = kzalloc(sizeof(*hd), GFP_KERNEL);
	if (!hd)
		return ERR_PTR(-ENOMEM);
	mutex_init(&hd->lock);
	INIT_LIST_HEAD(&hd->attachments);
	hd->buf = buf;

	exp_info.exp_name = KBUILD_MODNAME;
	exp_info.ops = &hpa_dmabuf_ops;
	exp_info.size = hpa_buffer_bytes(buf);
	exp_info.flags = flags & HPALLOC_EXPORT_WRITE ? O_RDWR : O_RDONLY;
	exp_info.priv = hd;
	hpa_buffer_get(buf);
	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf)) {
		hpa_buffer_put(buf);
		kfree(hd);
		return ERR_CAST(dmabuf);
	}
	hpalloc_inode_enable_huge_fault(file_inode(dmabuf->file));
	/* the ioctl installs it in a descriptor once its answer is out */
	return dmabuf->file;
}
