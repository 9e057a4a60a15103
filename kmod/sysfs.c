// SPDX-License-Identifier: GPL-2.0
/* /sys/kernel/hpalloc/node<N>/<size>/: pool sizes and statistics. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kobject.h>
#include <linux/nodemask.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "internal.h"

static struct kobject *hpa_root;
static struct kobject *hpa_node_dirs[MAX_NUMNODES];

static void hpa_pool_kobj_release(struct kobject *kobj)
{
	kfree(container_of(kobj, struct hpa_pool, kobj));
}

static const struct kobj_type hpa_pool_ktype = {
	.release = hpa_pool_kobj_release,
	.sysfs_ops = &kobj_sysfs_ops,
};

const struct kobj_type *hpa_sysfs_pool_ktype(void)
{
	return &hpa_pool_ktype;
}

struct kobject *hpa_sysfs_node_dir(int nid)
{
	char name[16];

	if (!hpa_node_dirs[nid]) {
		snprintf(name, sizeof(name), "node%d", nid);
		hpa_node_dirs[nid] = kobject_create_and_add(name, hpa_root);
	}
	return hpa_node_dirs[nid];
}

int hpa_sysfs_init(void)
{
	hpa_root = kobject_create_and_add("hpalloc", kernel_kobj);
	return hpa_root ? 0 : -ENOMEM;
}

void hpa_sysfs_exit(void)
{
	int nid;

	for (nid = 0; nid < MAX_NUMNODES; nid++) {
		kobject_put(hpa_node_dirs[nid]);
		hpa_node_dirs[nid] = NULL;
	}
	kobject_put(hpa_root);
	hpa_root = NULL;
}
