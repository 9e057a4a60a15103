// SPDX-License-Identifier: GPL-2.0
/*
 * hpalloc: physically contiguous 2 MiB and 1 GiB pages for user space,
 * through the misc device /dev/hpalloc.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <uapi/linux/hpalloc.h>

#include "compat.h"
#include "internal.h"

atomic_long_t hpa_nr_buffers = ATOMIC_LONG_INIT(0);
struct workqueue_struct *hpa_wq;

static const struct file_operations hpa_fops = {
	.owner = THIS_MODULE,
	.open = hpa_open,
	.release = hpa_release,
	.mmap = hpa_mmap,
	.get_unmapped_area = hpa_get_unmapped_area,
	.unlocked_ioctl = hpa_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice hpa_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "hpalloc",
	.fops = &hpa_fops,
	.mode = 0666,
};

/*
 * Up in the order things depend on each other, and down in the reverse
 * order: the pools exist before their sysfs directories, and those before
 * the device that reaches the pools; on the way down no open file, mapping
 * or sysfs write can reach a pool once it is destroyed.
 */
static int __init hpa_init(void)
{
	int ret;

	ret = hpa_params_parse();
	if (ret)
		return ret;
	hpa_wq = alloc_workqueue("hpalloc", WQ_UNBOUND, 0);
	if (!hpa_wq)
		return -ENOMEM;
	ret = hpa_pools_create();
	if (ret)
		goto destroy_wq;
	ret = hpa_sysfs_add();
	if (ret)
		goto destroy_pools;
	ret = misc_register(&hpa_misc);
	if (ret)
		goto remove_sysfs;
	pr_info("version %s loaded\n", HPALLOC_VERSION);
	return 0;

remove_sysfs:
	hpa_sysfs_remove();
destroy_pools:
	hpa_pools_destroy();
destroy_wq:
	destroy_workqueue(hpa_wq);
	return ret;
}

static void __exit hpa_exit(void)
{
	bool leak;

	misc_deregister(&hpa_misc);
	hpa_sysfs_remove();
	/* the module cannot go while a file or a mapping holds a buffer */
	if (atomic_long_read(&hpa_nr_buffers))
		pr_err("leak: %ld buffers still alive\n",
		       atomic_long_read(&hpa_nr_buffers));
	leak = hpa_pools_destroy();
	destroy_workqueue(hpa_wq);
	if (!leak)
		pr_info("unloaded\n");
}

module_init(hpa_init);
module_exit(hpa_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Physically contiguous 2 MiB and 1 GiB pages for user space");
MODULE_AUTHOR("hpalloc developers");
MODULE_VERSION(HPALLOC_VERSION);
