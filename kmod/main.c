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

bool hpa_overcommit = true;
module_param_named(overcommit, hpa_overcommit, bool, 0644);
MODULE_PARM_DESC(overcommit,
		 "Take pages from the page allocator when a pool is empty (default: Y)");

bool hpa_phys_group_access;
module_param_named(phys_group_access, hpa_phys_group_access, bool, 0644);
MODULE_PARM_DESC(phys_group_access,
		 "Let anyone who can open the device read physical addresses, not only CAP_SYS_RAWIO (default: N)");

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

static int __init hpa_init(void)
{
	int ret;

	hpa_wq = alloc_workqueue("hpalloc", WQ_UNBOUND, 0);
	if (!hpa_wq)
		return -ENOMEM;
	ret = hpa_sysfs_init();
	if (ret)
		goto destroy_wq;
	ret = hpa_pools_init();
	if (ret)
		goto remove_sysfs;
	ret = misc_register(&hpa_misc);
	if (ret)
		goto destroy_pools;
	pr_info("version %s loaded\n", HPALLOC_VERSION);
	return 0;

destroy_pools:
	hpa_pools_hide();
	hpa_pools_exit();
	flush_workqueue(hpa_wq);
	hpa_pools_check_leaks();
remove_sysfs:
	hpa_sysfs_exit();
destroy_wq:
	destroy_workqueue(hpa_wq);
	return ret;
}

static void __exit hpa_exit(void)
{
	bool leak;

	misc_deregister(&hpa_misc);
	hpa_pools_hide();
	hpa_pools_exit();
	flush_workqueue(hpa_wq);
	if (atomic_long_read(&hpa_nr_buffers))
		pr_err("leak: %ld buffers still alive\n",
		       atomic_long_read(&hpa_nr_buffers));
	leak = hpa_pools_check_leaks();
	hpa_sysfs_exit();
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
