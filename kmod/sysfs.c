// SPDX-License-Identifier: GPL-2.0
/* /sys/kernel/hpalloc/node<N>/<size>/: pool sizes and statistics. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "internal.h"

static struct kobject *hpa_root;
static struct kobject *hpa_node_dirs[MAX_NUMNODES];

static struct hpa_pool *to_pool(struct kobject *kobj)
{
	return container_of(kobj, struct hpa_pool, kobj);
}

/* Read-only counters: one value per file, read under the pool lock. */
#define HPA_POOL_COUNTER(name, expr)					\
static ssize_t name##_show(struct kobject *kobj,			\
			   struct kobj_attribute *attr, char *buf)	\
{									\
	struct hpa_pool *pool = to_pool(kobj);				\
	unsigned long v;						\
									\
	spin_lock(&pool->lock);						\
	v = (expr);							\
	spin_unlock(&pool->lock);					\
	return sysfs_emit(buf, "%lu\n", v);				\
}									\
static struct kobj_attribute name##_attr = __ATTR_RO(name)

HPA_POOL_COUNTER(total, pool->nr_free + pool->nr_in_use + pool->nr_zeroing);
HPA_POOL_COUNTER(free, pool->nr_free);
HPA_POOL_COUNTER(in_use, pool->nr_in_use);
HPA_POOL_COUNTER(zeroing, pool->nr_zeroing);
HPA_POOL_COUNTER(allocs, pool->allocs);
HPA_POOL_COUNTER(failures, pool->failures);
HPA_POOL_COUNTER(contig_requests, pool->contig_requests);
HPA_POOL_COUNTER(contig_failures, pool->contig_failures);
HPA_POOL_COUNTER(shrinker_released, pool->shrinker_released);
HPA_POOL_COUNTER(zeroed, pool->zeroed);
HPA_POOL_COUNTER(ranges_tried, pool->ranges_tried);
HPA_POOL_COUNTER(ranges_unmovable, pool->ranges_unmovable);
HPA_POOL_COUNTER(ranges_pinned, pool->ranges_pinned);
HPA_POOL_COUNTER(ranges_busy, pool->ranges_busy);
HPA_POOL_COUNTER(ranges_own_2m, pool->ranges_own_2m);
HPA_POOL_COUNTER(released_for_1g, pool->released_for_1g);

static ssize_t target_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(to_pool(kobj)->target));
}

/* Grow or shrink; read it back to see what a grow really got. */
static ssize_t target_store(struct kobject *kobj, struct kobj_attribute *attr,
			    const char *buf, size_t count)
{
	unsigned long v;
	int ret;

	ret = kstrtoul(buf, 0, &v);
	if (ret)
		return ret;
	if (v > (totalram_pages() >> to_pool(kobj)->order))
		return -EINVAL;
	ret = hpa_pool_resize(to_pool(kobj), v);
	return ret ? ret : count;
}

static struct kobj_attribute target_attr = __ATTR_RW(target);

static ssize_t min_show(struct kobject *kobj, struct kobj_attribute *attr,
			char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(to_pool(kobj)->min));
}

static ssize_t min_store(struct kobject *kobj, struct kobj_attribute *attr,
			 const char *buf, size_t count)
{
	unsigned long v;
	int ret;

	ret = kstrtoul(buf, 0, &v);
	if (ret)
		return ret;
	hpa_pool_set_min(to_pool(kobj), v);
	return count;
}

static struct kobj_attribute min_attr = __ATTR_RW(min);

static struct attribute *hpa_pool_attrs[] = {
	&target_attr.attr,
	&min_attr.attr,
	&total_attr.attr,
	&free_attr.attr,
	&in_use_attr.attr,
	&zeroing_attr.attr,
	&allocs_attr.attr,
	&failures_attr.attr,
	&contig_requests_attr.attr,
	&contig_failures_attr.attr,
	&shrinker_released_attr.attr,
	&zeroed_attr.attr,
	&ranges_tried_attr.attr,
	&ranges_unmovable_attr.attr,
	&ranges_pinned_attr.attr,
	&ranges_busy_attr.attr,
	&ranges_own_2m_attr.attr,
	&released_for_1g_attr.attr,
	NULL
};
ATTRIBUTE_GROUPS(hpa_pool);

static void hpa_pool_kobj_release(struct kobject *kobj)
{
	kfree(to_pool(kobj));
}

static const struct kobj_type hpa_pool_ktype = {
	.release = hpa_pool_kobj_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = hpa_pool_groups,
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
