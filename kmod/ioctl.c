// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctl ABI of include/uapi/linux/hpalloc.h.
 *
 * The struct size comes from the command (_IOC_SIZE): a smaller, older
 * struct reads as zero-extended, a larger, newer one is accepted when the
 * bytes this module does not know are zero (else E2BIG), and only the bytes
 * the caller has are written back.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/nodemask.h>
#include <linux/nospec.h>
#include <linux/pfn.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>
#include <uapi/linux/hpalloc.h>

#include "compat.h"
#include "internal.h"

/* Handles are ids 1 .. HPA_MAX_HANDLE: offsets stay below 2^63. */
#define HPA_MAX_HANDLE		(BIT(63 - HPALLOC_HANDLE_SHIFT) - 1)
/* A buffer fits between two handles. */
#define HPA_MAX_BUFFER		BIT_ULL(HPALLOC_HANDLE_SHIFT)

/* The largest struct of the ABI, for the kernel's copy. */
union hpa_ioctl_arg {
	struct hpalloc_version version;
	struct hpalloc_alloc alloc;
	struct hpalloc_free free;
	struct hpalloc_query query;
	struct hpalloc_export_dmabuf export_dmabuf;
};

/*
 * The kernel's copy of an ioctl's argument, and what a call leaves for its
 * finish step (an object to publish once the answer is out).
 */
struct hpa_ioctl_call {
	union hpa_ioctl_arg k;
	void *pending;
};

/*
 * Physical addresses need CAP_SYS_RAWIO (in the initial user namespace) of
 * both the caller and whoever opened the file, so that a descriptor passed
 * between a privileged and an unprivileged process works as a key for
 * neither: a privileged opener cannot hand the right out with the file,
 * and a privileged receiver cannot be made to read them into a file an
 * unprivileged process opened (the pagemap and /dev/mem confused-deputy
 * shapes).
 */
static bool hpa_caller_may_see_phys(struct file *file)
{
	if (capable(CAP_SYS_RAWIO) &&
	    file_ns_capable(file, &init_user_ns, CAP_SYS_RAWIO))
		return true;
	return READ_ONCE(hpa_phys_group_access) &&
	       in_group_p(file_inode(file)->i_gid);
}

static u32 hpa_page_sizes(void)
{
	return HPALLOC_PAGE_SIZE_2M |
	       (hpalloc_have_pud() ? HPALLOC_PAGE_SIZE_1G : 0);
}

static int hpa_ioc_version(struct file *file, struct hpa_ioctl_call *c)
{
	struct hpalloc_version *v = &c->k.version;

	if (v->flags & ~HPALLOC_VERSION_VALID)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	v->api = HPALLOC_API_VERSION;
	v->features = HPALLOC_FEAT_PMD | HPALLOC_FEAT_CONTIG | HPALLOC_FEAT_GUP |
		      HPALLOC_FEAT_DMABUF;
	if (hpalloc_have_pud())
		v->features |= HPALLOC_FEAT_PUD;
	if (hpa_caller_may_see_phys(file))
		v->features |= HPALLOC_FEAT_PHYS;
	v->ioctls = BIT_ULL(_IOC_NR(HPALLOC_IOC_VERSION)) |
		    BIT_ULL(_IOC_NR(HPALLOC_IOC_ALLOC)) |
		    BIT_ULL(_IOC_NR(HPALLOC_IOC_FREE)) |
		    BIT_ULL(_IOC_NR(HPALLOC_IOC_QUERY)) |
		    BIT_ULL(_IOC_NR(HPALLOC_IOC_EXPORT_DMABUF));
	v->page_sizes = hpa_page_sizes();
	v->nr_node_ids = nr_node_ids;
	return 0;
}

/* Every node of the mask must exist and have memory. */
static bool hpa_nodemask_valid(u64 mask)
{
	int nid;

	if (!mask)
		return false;
	for (nid = 0; nid < 64; nid++) {
		if (!(mask & BIT_ULL(nid)))
			continue;
		if (nid >= nr_node_ids || !node_state(nid, N_MEMORY))
			return false;
	}
	return true;
}

static int hpa_ioc_alloc(struct file *file, struct hpa_ioctl_call *c)
{
	struct hpa_file *hf = file->private_data;
	struct hpalloc_alloc *a = &c->k.alloc;
	struct hpa_alloc_req req = { };
	struct hpa_buffer *buf;
	unsigned long ps;
	u32 id;
	int ret;

	if (a->flags & ~HPALLOC_ALLOC_VALID || a->reserved_in ||
	    a->reserved_out)
		return -EINVAL;
	if (a->page_size == 0 || a->page_size == HPALLOC_PAGE_SIZE_2M)
		req.size = HPA_2M;
	else if (a->page_size == HPALLOC_PAGE_SIZE_1G)
		req.size = HPA_1G;
	else
		return -EINVAL;
	if (!(hpa_page_sizes() & hpa_size_bytes(req.size)))
		return -EOPNOTSUPP;
	ps = hpa_size_bytes(req.size);
	if (!a->size || a->size > HPA_MAX_BUFFER)
		return -EINVAL;

	if (a->policy >= HPALLOC_POLICY_MAX)
		return -EINVAL;
	if (a->policy == HPALLOC_POLICY_LOCAL) {
		if (a->nodemask)
			return -EINVAL;
	} else if (!hpa_nodemask_valid(a->nodemask)) {
		return -EINVAL;
	}
	req.contig = a->flags & HPALLOC_ALLOC_CONTIG;
	if (req.contig && a->policy == HPALLOC_POLICY_INTERLEAVE &&
	    hweight64(a->nodemask) > 1)
		return -EINVAL;
	req.policy = a->policy;
	req.nodemask = a->nodemask;
	req.nr_pages = DIV_ROUND_UP_ULL(a->size, ps);

	buf = hpa_buffer_create(&req);
	if (IS_ERR(buf))
		return PTR_ERR(buf);

	ret = hpa_file_add_pending(hf, buf, HPA_MAX_HANDLE, &id);
	if (ret) {
		hpa_buffer_put(buf);
		return ret == -EBUSY ? -ENOSPC : ret;
	}
	buf->pgoff = ((u64)id << HPALLOC_HANDLE_SHIFT) >> PAGE_SHIFT;

	a->offset = (u64)id << HPALLOC_HANDLE_SHIFT;
	a->alloc_size = hpa_buffer_bytes(buf);
	a->nodes = buf->nodes;
	a->nr_pages = buf->nr_pages;
	return 0;
}

/*
 * The handle ALLOC made becomes visible once its answer is written back;
 * if that fails, ALLOC removes it again.  A pending handle cannot be freed
 * or looked up by anyone else, so this removes nothing but its own.
 */
static void hpa_ioc_alloc_finish(struct file *file, struct hpa_ioctl_call *c,
				 bool copied)
{
	struct hpa_file *hf = file->private_data;
	struct hpalloc_alloc *a = &c->k.alloc;
	u32 id = a->offset >> HPALLOC_HANDLE_SHIFT;

	if (copied)
		hpa_file_publish(hf, id);
	else
		hpa_file_drop_pending(hf, id);
}

static bool hpa_offset_is_handle(u64 offset)
{
	return offset && !(offset & ((1ULL << HPALLOC_HANDLE_SHIFT) - 1));
}

static int hpa_ioc_free(struct file *file, struct hpa_ioctl_call *c)
{
	struct hpa_file *hf = file->private_data;
	struct hpalloc_free *f = &c->k.free;
	struct hpa_buffer *buf;

	if (f->flags & ~HPALLOC_FREE_VALID || f->reserved)
		return -EINVAL;
	if (!hpa_offset_is_handle(f->offset))
		return -EINVAL;
	buf = hpa_file_remove(hf, f->offset);
	if (!buf)
		return -ENOENT;
	hpa_buffer_put(buf);
	return 0;
}

static int hpa_ioc_query(struct file *file, struct hpa_ioctl_call *c)
{
	struct hpa_file *hf = file->private_data;
	struct hpalloc_query *q = &c->k.query;
	struct hpalloc_page_info __user *out;
	struct hpa_buffer *buf;
	unsigned int i, nr;
	int ret = 0;

	if (q->flags & ~HPALLOC_QUERY_VALID || q->reserved_in)
		return -EINVAL;
	if (!hpa_offset_is_handle(q->offset))
		return -EINVAL;
	if ((q->flags & HPALLOC_QUERY_PHYS) && !hpa_caller_may_see_phys(file))
		return -EPERM;
	buf = hpa_file_lookup(hf, q->offset);
	if (!buf)
		return -ENOENT;
	if (q->first_page > buf->nr_pages) {
		ret = -EINVAL;
		goto put_buffer;
	}

	nr = min(q->nr_entries, buf->nr_pages - q->first_page);
	out = u64_to_user_ptr(q->pages_ptr);
	for (i = 0; i < nr; i++) {
		struct page *page = buf->pages[q->first_page + i];
		struct hpalloc_page_info pi = {
			.node = page_to_nid(page),
		};

		if (q->flags & HPALLOC_QUERY_PHYS)
			pi.phys = PFN_PHYS(page_to_pfn(page));
		if (copy_to_user(&out[i], &pi, sizeof(pi))) {
			ret = -EFAULT;
			goto put_buffer;
		}
	}
	q->alloc_size = hpa_buffer_bytes(buf);
	q->page_size = PAGE_SIZE << buf->order;
	q->nr_pages = buf->nr_pages;
	q->nr_filled = nr;
	q->out_flags = buf->flags & HPA_BUF_CONTIG ? HPALLOC_BUF_CONTIG : 0;
	q->nodes = buf->nodes;

put_buffer:
	hpa_buffer_put(buf);
	return ret;
}

static int hpa_ioc_export_dmabuf(struct file *file, struct hpa_ioctl_call *c)
{
	struct hpa_file *hf = file->private_data;
	struct hpalloc_export_dmabuf *e = &c->k.export_dmabuf;
	struct hpa_buffer *buf;
	struct file *dmabuf;
	int fd;

	if (e->flags & ~HPALLOC_EXPORT_VALID || e->reserved_in || e->fd ||
	    e->reserved_out)
		return -EINVAL;
	if (!hpa_offset_is_handle(e->offset))
		return -EINVAL;
	/* a dma-buf that may write needs a file that may */
	if ((e->flags & HPALLOC_EXPORT_WRITE) && !(file->f_mode & FMODE_WRITE))
		return -EACCES;
	buf = hpa_file_lookup(hf, e->offset);
	if (!buf)
		return -ENOENT;
	dmabuf = hpa_dmabuf_export(buf, e->flags);
	hpa_buffer_put(buf);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	fd = get_unused_fd_flags(e->flags & HPALLOC_EXPORT_CLOEXEC ?
				 O_CLOEXEC : 0);
	if (fd < 0) {
		fput(dmabuf);
		return fd;
	}
	e->fd = fd;
	c->pending = dmabuf;
	return 0;
}

/*
 * The descriptor is installed only once the answer is written back: until
 * then no other thread can see it, close it, or have its number reused,
 * so the undo frees the file and the number it reserved and nothing else.
 */
static void hpa_ioc_export_dmabuf_finish(struct file *file,
					 struct hpa_ioctl_call *c, bool copied)
{
	if (copied) {
		fd_install(c->k.export_dmabuf.fd, c->pending);
	} else {
		put_unused_fd(c->k.export_dmabuf.fd);
		fput(c->pending);
	}
}

struct hpa_ioctl_desc {
	unsigned int cmd;
	unsigned int min_size;		/* the oldest struct that works */
	int (*fn)(struct file *file, struct hpa_ioctl_call *c);
	/* after a successful fn: was the answer written back? */
	void (*finish)(struct file *file, struct hpa_ioctl_call *c,
		       bool copied);
};

static const struct hpa_ioctl_desc hpa_ioctls[] = {
	{ HPALLOC_IOC_VERSION, offsetofend(struct hpalloc_version, api),
	  hpa_ioc_version },
	{ HPALLOC_IOC_ALLOC, offsetofend(struct hpalloc_alloc, offset),
	  hpa_ioc_alloc, hpa_ioc_alloc_finish },
	{ HPALLOC_IOC_FREE, offsetofend(struct hpalloc_free, offset),
	  hpa_ioc_free },
	{ HPALLOC_IOC_QUERY, offsetofend(struct hpalloc_query, nr_entries),
	  hpa_ioc_query },
	{ HPALLOC_IOC_EXPORT_DMABUF,
	  offsetofend(struct hpalloc_export_dmabuf, fd),
	  hpa_ioc_export_dmabuf, hpa_ioc_export_dmabuf_finish },
};

long hpa_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	const struct hpa_ioctl_desc *desc;
	void __user *uarg = (void __user *)arg;
	unsigned int nr = _IOC_NR(cmd);
	unsigned int usize = _IOC_SIZE(cmd);
	unsigned int ksize;
	struct hpa_ioctl_call c = { };
	int ret;

	BUILD_BUG_ON(sizeof(struct hpalloc_version) % 8);
	BUILD_BUG_ON(sizeof(struct hpalloc_alloc) % 8);
	BUILD_BUG_ON(sizeof(struct hpalloc_free) % 8);
	BUILD_BUG_ON(sizeof(struct hpalloc_page_info) % 8);
	BUILD_BUG_ON(sizeof(struct hpalloc_query) % 8);
	BUILD_BUG_ON(sizeof(struct hpalloc_export_dmabuf) % 8);

	if (_IOC_TYPE(cmd) != HPALLOC_IOC_MAGIC || nr >= ARRAY_SIZE(hpa_ioctls))
		return -ENOTTY;
	nr = array_index_nospec(nr, ARRAY_SIZE(hpa_ioctls));
	desc = &hpa_ioctls[nr];
	if (_IOC_DIR(cmd) != _IOC_DIR(desc->cmd))
		return -ENOTTY;
	if (usize < desc->min_size)
		return -EINVAL;

	ksize = _IOC_SIZE(desc->cmd);
	ret = copy_struct_from_user(&c.k, ksize, uarg, usize);
	if (ret)
		return ret;
	ret = desc->fn(file, &c);
	if (ret)
		return ret;
	if ((_IOC_DIR(cmd) & _IOC_READ) &&
	    copy_to_user(uarg, &c.k, min(ksize, usize)))
		ret = -EFAULT;
	if (desc->finish)
		desc->finish(file, &c, !ret);
	return ret;
}
