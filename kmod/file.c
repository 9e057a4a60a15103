// SPDX-License-Identifier: GPL-2.0
/*
 * The open file: its table of handles (id -> buffer).  A handle is added
 * pending by the ALLOC that makes it and becomes visible only when that
 * ALLOC has written its answer back; until then no other call (FREE, QUERY,
 * mmap) can see it, so the ALLOC's undo removes its own handle and no one
 * else's.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#include <uapi/linux/hpalloc.h>

#include "compat.h"
#include "internal.h"

/* XA_MARK_0 tracks free ids in an allocating xarray. */
#define HPA_HANDLE_PENDING	XA_MARK_1

int hpa_open(struct inode *inode, struct file *file)
{
	struct hpa_file *hf;

	hf = kzalloc(sizeof(*hf), GFP_KERNEL);
	if (!hf)
		return -ENOMEM;
	xa_init_flags(&hf->buffers, XA_FLAGS_ALLOC1);
	file->private_data = hf;
	hpalloc_inode_enable_huge_fault(inode);
	return 0;
}

/* The handles go with the file; mappings keep their buffers alive. */
int hpa_release(struct inode *inode, struct file *file)
{
	struct hpa_file *hf = file->private_data;
	struct hpa_buffer *buf;
	unsigned long id;

	/* no ioctl runs on a file being released: nothing is pending */
	xa_for_each(&hf->buffers, id, buf) {
		xa_erase(&hf->buffers, id);
		hpa_buffer_put(buf);
	}
	xa_destroy(&hf->buffers);
	kfree(hf);
	return 0;
}

/* A new handle for buf, invisible until hpa_file_publish(); takes buf. */
int hpa_file_add_pending(struct hpa_file *hf, struct hpa_buffer *buf,
			 u32 max_id, u32 *id)
{
	int ret;

	xa_lock(&hf->buffers);
	ret = __xa_alloc(&hf->buffers, id, buf, XA_LIMIT(1, max_id),
			 GFP_KERNEL);
	if (!ret)
		__xa_set_mark(&hf->buffers, *id, HPA_HANDLE_PENDING);
	xa_unlock(&hf->buffers);
	return ret;
}

void hpa_file_publish(struct hpa_file *hf, u32 id)
{
	xa_clear_mark(&hf->buffers, id, HPA_HANDLE_PENDING);
}

/* Undo hpa_file_add_pending(): only a handle still pending is ours. */
void hpa_file_drop_pending(struct hpa_file *hf, u32 id)
{
	struct hpa_buffer *buf = NULL;

	xa_lock(&hf->buffers);
	if (xa_get_mark(&hf->buffers, id, HPA_HANDLE_PENDING))
		buf = __xa_erase(&hf->buffers, id);
	xa_unlock(&hf->buffers);
	if (buf)
		hpa_buffer_put(buf);
}

/* A visible handle, removed; its reference goes to the caller. */
struct hpa_buffer *hpa_file_remove(struct hpa_file *hf, u64 offset)
{
	unsigned long id = offset >> HPALLOC_HANDLE_SHIFT;
	struct hpa_buffer *buf;

	xa_lock(&hf->buffers);
	buf = xa_load(&hf->buffers, id);
	if (buf && !xa_get_mark(&hf->buffers, id, HPA_HANDLE_PENDING))
		__xa_erase(&hf->buffers, id);
	else
		buf = NULL;
	xa_unlock(&hf->buffers);
	return buf;
}

/* Find the buffer a visible handle names; takes a reference. */
struct hpa_buffer *hpa_file_lookup(struct hpa_file *hf, u64 offset)
{
	unsigned long id = offset >> HPALLOC_HANDLE_SHIFT;
	struct hpa_buffer *buf;

	xa_lock(&hf->buffers);
	buf = xa_load(&hf->buffers, id);
	if (buf && xa_get_mark(&hf->buffers, id, HPA_HANDLE_PENDING))
		buf = NULL;
	if (buf)
		hpa_buffer_get(buf);
	xa_unlock(&hf->buffers);
	return buf;
}
