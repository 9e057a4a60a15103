// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/hpalloc/node<N>/<size>/: pool sizes and statistics.  A view
 * of the pools: a directory holds a pointer to its pool and nothing else,
 * and is removed (which waits for the reads and writes in progress) before
 * the pools go.  It never frees a pool.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "internal.h"

/* One pool's directory. */
struct hpa_pool_dir {
	struct kobject kobj;
	struct hpa_pool *pool;
};

static struct kobject *hpa_root;
static struct kobject *hpa_node_dirs[MAX_NUMNODES];
static struct hpa_pool_dir *hpa_pool_dirs[MAX_NUMNODES][HPA_NR_SIZES];

static struct hpa_pool *to_pool(struct kobject *kobj)
{
	return container_of(kobj, struct hpa_pool_dir, kobj)->pool;
}

/* Read-only counters: one value per file, from one consistent snapshot. */
#define HPA_POOL_COUNTER(name, field)					\
static ssize_t name##_show(struct kobject *kobj,			\
			   struct kobj_attribute *attr, char *buf)	\
{									\
	struct hpa_pool_stats st;					\
									\
	hpa_pool_read_stats(to_pool(kobj), &st);			\
	return sysfs_emit(buf, "%lu\n", st.field);			\
}									\
static struct kobj_attribute name##_attr = __ATTR_RO(name)

HPA_POOL_COUNTER(total, total);
HPA_POOL_COUNTER(free, free);
HPA_POOL_COUNTER(in_use, in_use);
HPA_POOL_COUNTER(zeroing, zeroing);
HPA_POOL_COUNTER(allocs, allocs);
HPA_POOL_COUNTER(failures, failures);
HPA_POOL_COUNTER(contig_requests, contig_requests);
HPA_POOL_COUNTER(contig_failures, contig_failures);
HPA_POOL_COUNTER(shrinker_released, shrinker_released);
HPA_POOL_COUNTER(zeroed, zeroed);
HPA_POOL_COUNTER(ranges_tried, ranges_tried);
HPA_POOL_COUNTER(ranges_unmovable, ranges_unmovable);
HPA_POOL_COUNTER(ranges_pinned, ranges_pinned);
HPA_POOL_COUNTER(ranges_busy, ranges_busy);
HPA_POOL_COUNTER(ranges_own_2m, ranges_own_2m);
HPA_POOL_COUNTER(released_for_1g, released_for_1g);
HPA_POOL_COUNTER(steered, steered);
HPA_POOL_COUNTER(split, split);
HPA_POOL_COUNTER(merged, merged);
HPA_POOL_COUNTER(convert_dirty, convert_dirty);
HPA_POOL_COUNTER(convert_lost, convert_lost);

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

/*
 * A count to convert, as written to split_pages or merge_pages: a positive
 * decimal (or 0x...) number; anything else, negative or too large for an
 * unsigned long, is -EINVAL.
 */
static int hpa_parse_convert_count(const char *buf, unsigned long *nr)
{
	if (kstrtoul(buf, 0, nr) || !*nr)
		return -EINVAL;
	return 0;
}

/* A conversion request: a count, then the pool's conversion of that many. */
static ssize_t hpa_convert_store(struct kobject *kobj, const char *buf,
				 size_t count,
				 int (*convert)(struct hpa_pool *pool,
						unsigned long nr))
{
	unsigned long nr;
	int ret = hpa_parse_convert_count(buf, &nr);

	if (!ret)
		ret = convert(to_pool(kobj), nr);
	return ret ? ret : count;
}

/* Split that many free 1 GiB pages (above min) into 2 MiB pages. */
static ssize_t split_pages_store(struct kobject *kobj,
				 struct kobj_attribute *attr,
				 const char *buf, size_t count)
{
	return hpa_convert_store(kobj, buf, count, hpa_pool_split);
}

static struct kobj_attribute split_pages_attr = __ATTR_WO(split_pages);

/* Merge that many free aligned GiBs of 2 MiB pages into 1 GiB pages. */
static ssize_t merge_pages_store(struct kobject *kobj,
				 struct kobj_attribute *attr,
				 const char *buf, size_t count)
{
	return hpa_convert_store(kobj, buf, count, hpa_pool_merge);
}

static struct kobj_attribute merge_pages_attr = __ATTR_WO(merge_pages);

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
	&steered_attr.attr,
	NULL
};

/* Only a 1 GiB pool converts: to and from the node's 2 MiB pool. */
static struct attribute *hpa_convert_attrs[] = {
	&split_attr.attr,
	&merged_attr.attr,
	&convert_dirty_attr.attr,
	&convert_lost_attr.attr,
	&split_pages_attr.attr,
	&merge_pages_attr.attr,
	NULL
};

static umode_t hpa_convert_visible(struct kobject *kobj, struct attribute *a,
				   int n)
{
	return to_pool(kobj)->size == HPA_1G ? a->mode : 0;
}

static const struct attribute_group hpa_pool_group = {
	.attrs = hpa_pool_attrs,
};

static const struct attribute_group hpa_convert_group = {
	.attrs = hpa_convert_attrs,
	.is_visible = hpa_convert_visible,
};

static const struct attribute_group *hpa_pool_groups[] = {
	&hpa_pool_group,
	&hpa_convert_group,
	NULL
};

static void hpa_pool_dir_release(struct kobject *kobj)
{
	kfree(container_of(kobj, struct hpa_pool_dir, kobj));
}

static const struct kobj_type hpa_pool_dir_ktype = {
	.release = hpa_pool_dir_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = hpa_pool_groups,
};

static struct kobject *hpa_node_dir(int nid)
{
	char name[16];

	if (!hpa_node_dirs[nid]) {
		snprintf(name, sizeof(name), "node%d", nid);
		hpa_node_dirs[nid] = kobject_create_and_add(name, hpa_root);
	}
	return hpa_node_dirs[nid];
}

/* node<N>/<size>/ for one pool. */
static int hpa_sysfs_add_pool(struct hpa_pool *pool)
{
	struct kobject *node_dir = hpa_node_dir(pool->nid);
	struct hpa_pool_dir *dir;
	int ret;

	if (!node_dir)
		return -ENOMEM;
	dir = kzalloc(sizeof(*dir), GFP_KERNEL);
	if (!dir)
		return -ENOMEM;
	dir->pool = pool;
	ret = kobject_init_and_add(&dir->kobj, &hpa_pool_dir_ktype, node_dir,
				   "%s", hpa_size_name(pool->size));
	if (ret) {
		kobject_put(&dir->kobj);
		return ret;
	}
	hpa_pool_dirs[pool->nid][pool->size] = dir;
	return 0;
}

/*
 * kobject_del() returns once no show or store runs on the directory and
 * none can start: after it, the pool may go, whenever the kobject itself
 * is released.
 */
static void hpa_sysfs_remove_pool(int nid, enum hpa_size size)
{
	struct hpa_pool_dir *dir = hpa_pool_dirs[nid][size];

	if (!dir)
		return;
	hpa_pool_dirs[nid][size] = NULL;
	kobject_del(&dir->kobj);
	kobject_put(&dir->kobj);
}

/* /sys/kernel/hpalloc/ with a directory for every pool there is. */
int hpa_sysfs_add(void)
{
	int nid, size, ret;

	hpa_root = kobject_create_and_add("hpalloc", kernel_kobj);
	if (!hpa_root)
		return -ENOMEM;
	for_each_node_state(nid, N_MEMORY) {
		for (size = 0; size < HPA_NR_SIZES; size++) {
			struct hpa_pool *pool = hpa_pool_of(nid, size);

			if (!pool)
				continue;
			ret = hpa_sysfs_add_pool(pool);
			if (ret)
				goto remove_dirs;
		}
	}
	return 0;

remove_dirs:
	hpa_sysfs_remove();
	return ret;
}

void hpa_sysfs_remove(void)
{
	int nid, size;

	for (nid = 0; nid < MAX_NUMNODES; nid++) {
		for (size = 0; size < HPA_NR_SIZES; size++)
			hpa_sysfs_remove_pool(nid, size);
		kobject_put(hpa_node_dirs[nid]);
		hpa_node_dirs[nid] = NULL;
	}
	kobject_put(hpa_root);
	hpa_root = NULL;
}
