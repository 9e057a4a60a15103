// SPDX-License-Identifier: GPL-2.0
/* The module's parameters, and the parsing of the pool sizes at load. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "internal.h"

bool hpa_overcommit = true;
module_param_named(overcommit, hpa_overcommit, bool, 0644);
MODULE_PARM_DESC(overcommit,
		 "Take pages from the page allocator when a pool is empty (default: Y)");

bool hpa_phys_group_access;
module_param_named(phys_group_access, hpa_phys_group_access, bool, 0644);
MODULE_PARM_DESC(phys_group_access,
		 "Let anyone who can open the device read physical addresses, not only CAP_SYS_RAWIO (default: N)");

static char *pages_2m;
module_param(pages_2m, charp, 0444);
MODULE_PARM_DESC(pages_2m,
		 "2 MiB pages to put in each node's pool at load: NODE:COUNT[,NODE:COUNT...]");
static char *pages_1g;
module_param(pages_1g, charp, 0444);
MODULE_PARM_DESC(pages_1g,
		 "1 GiB pages to put in each node's pool at load: NODE:COUNT[,NODE:COUNT...]");

/* pages_2m / pages_1g, parsed */
static unsigned long hpa_initial[HPA_NR_SIZES][MAX_NUMNODES];

/*
 * "0:64,1:64" -> hpa_initial[size][0] = 64, [1] = 64.  Every node named must
 * have memory; anything else fails the load with a message saying why.
 */
static int hpa_parse_counts(const char *name, const char *val,
			    enum hpa_size size)
{
	char *buf, *cur, *item;
	int ret = 0;

	if (!val || !*val)
		return 0;
	buf = kstrdup(val, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	cur = buf;
	while ((item = strsep(&cur, ",")) != NULL) {
		char *count_str = strchr(item, ':');
		unsigned int nid;
		unsigned long count;

		if (!count_str) {
			pr_err("%s=%s: \"%s\" is not NODE:COUNT\n",
			       name, val, item);
			ret = -EINVAL;
			break;
		}
		*count_str++ = '\0';
		if (kstrtouint(item, 10, &nid) ||
		    kstrtoul(count_str, 10, &count)) {
			pr_err("%s=%s: \"%s:%s\" is not NODE:COUNT in decimal\n",
			       name, val, item, count_str);
			ret = -EINVAL;
			break;
		}
		if (nid >= MAX_NUMNODES || !node_state(nid, N_MEMORY)) {
			pr_err("%s=%s: node %u has no memory\n", name, val,
			       nid);
			ret = -EINVAL;
			break;
		}
		if (count > (totalram_pages() >> hpa_size_order(size))) {
			pr_err("%s=%s: %lu pages is more than the machine has\n",
			       name, val, count);
			ret = -EINVAL;
			break;
		}
		hpa_initial[size][nid] = count;
	}
	kfree(buf);
	return ret;
}

/* Parse the pool sizes; a bad value fails the load before anything else. */
int hpa_params_parse(void)
{
	int ret;

	ret = hpa_parse_counts("pages_2m", pages_2m, HPA_2M);
	if (ret)
		return ret;
	return hpa_parse_counts("pages_1g", pages_1g, HPA_1G);
}

/* The pages node nid's pool of this size gets at load (and keeps as min). */
unsigned long hpa_param_initial_pages(int nid, enum hpa_size size)
{
	return hpa_initial[size][nid];
}
