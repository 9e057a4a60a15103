// SPDX-License-Identifier: GPL-2.0
/*
 * Accounting: what a buffer's pages are charged to.
 *
 * memlock: the creating user's RLIMIT_MEMLOCK (user_struct->locked_vm), as
 *	mlock() and io_uring do.  Pool pages, 2 MiB and 1 GiB, contiguous or
 *	not.  Nothing shows in a memory cgroup.
 * memcg:   the creating process's memory cgroup (the cgroup of its mm, as
 *	for its anonymous memory).  Each 2 MiB page is a fresh order-9
 *	allocation with __GFP_ACCOUNT under set_active_memcg(), zeroed by the
 *	page allocator in the ALLOC ioctl (never in the fault), and freed
 *	straight back to the page allocator, never to a pool: the kernel
 *	uncharges a page when it frees it, and a charged page must not reach
 *	another cgroup's owner.  memory.max is enforced by the charge itself
 *	(ALLOC fails with ENOMEM, memory.events "max" counts it, no OOM kill).
 *	RLIMIT_MEMLOCK is not charged.  1 GiB pages and contiguous buffers of
 *	more than one page come from alloc_contig_range() or pool pages filled
 *	in advance, which the kernel gives no exported way to charge: refused
 *	with EOPNOTSUPP.
 *
 * The mode is read once per ALLOC and recorded in the buffer, so the
 * uncharge always matches the charge, whatever the mode is by then.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/string.h>

#include "compat.h"
#include "internal.h"

static const char *const hpa_charge_names[] = {
	[HPA_CHARGE_MEMLOCK] = "memlock",
	[HPA_CHARGE_MEMCG] = "memcg",
};

static int hpa_accounting = HPA_CHARGE_MEMLOCK;

static int hpa_accounting_set(const char *val, const struct kernel_param *kp)
{
	int mode = sysfs_match_string(hpa_charge_names, val);

	if (mode < 0) {
		pr_err("accounting=%.*s: not one of memlock, memcg\n",
		       (int)strcspn(val, "\n"), val);
		return -EINVAL;
	}
	if (mode == HPA_CHARGE_MEMCG && mem_cgroup_disabled()) {
		pr_err("accounting=memcg: the memory controller is disabled in this kernel\n");
		return -EOPNOTSUPP;
	}
	WRITE_ONCE(hpa_accounting, mode);
	return 0;
}

static int hpa_accounting_get(char *buffer, const struct kernel_param *kp)
{
	return sysfs_emit(buffer, "%s\n",
			  hpa_charge_names[READ_ONCE(hpa_accounting)]);
}

static const struct kernel_param_ops hpa_accounting_ops = {
	.set = hpa_accounting_set,
	.get = hpa_accounting_get,
};

module_param_cb(accounting, &hpa_accounting_ops, NULL, 0644);
MODULE_PARM_DESC(accounting,
		 "What new buffers are charged to: memlock (RLIMIT_MEMLOCK, pool pages) or memcg (the caller's memory cgroup, fresh 2 MiB pages) (default: memlock)");

enum hpa_charge hpa_account_mode(void)
{
	return READ_ONCE(hpa_accounting);
}

/*
 * RLIMIT_MEMLOCK.  A buffer is charged to the user that created it, for as
 * long as the buffer exists, whoever holds it by then: the locked_vm
 * counter of the user_struct that io_uring's registered buffers and
 * SHM_LOCK charge too.  A charge to the creating mm would vanish when that
 * process exits or execs while the pages live on in a child, a parent or
 * the new image, and let a process tree hold any amount.  CAP_IPC_LOCK
 * lifts the limit, as for mlock().
 */
static int hpa_account_memlock(struct hpa_buffer *buf)
{
	unsigned long pages = (unsigned long)buf->nr_pages << buf->order;
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	struct user_struct *user = current_user();

	if (capable(CAP_IPC_LOCK))
		return 0;
	if (atomic_long_add_return(pages, &user->locked_vm) > limit) {
		atomic_long_sub(pages, &user->locked_vm);
		return -ENOMEM;
	}
	buf->user = get_uid(user);
	buf->locked_pages = pages;
	return 0;
}

/*
 * Can the pages of this request be charged to a memory cgroup?  Only fresh
 * 2 MiB pages are; see the top of this file.  A caller in a cgroup other
 * than the root while the kernel charges no kernel memory (booted with
 * cgroup.memory=nokmem) is refused too: its pages would bypass memory.max.
 */
static int hpa_account_memcg_check(const struct hpa_alloc_req *req)
{
	struct mem_cgroup *memcg;
	unsigned long bytes;
	bool uncharged;

	if (req->size != HPA_2M || (req->contig && req->nr_pages > 1))
		return -EOPNOTSUPP;
	/*
	 * More than the machine could give at all is refused at once, rather
	 * than after reclaiming everything (the pools' capacity check does
	 * not apply: these pages never come from a pool).
	 */
	bytes = (unsigned long)req->nr_pages << PMD_SHIFT;
	if (bytes >> PAGE_SHIFT > si_mem_available())
		return -ENOMEM;
	memcg = get_mem_cgroup_from_mm(current->mm);
	uncharged = memcg && memcg->css.parent && !hpalloc_memcg_kmem_on();
	mem_cgroup_put(memcg);
	if (uncharged) {
		pr_warn_ratelimited("accounting=memcg: the kernel does not charge kernel memory (cgroup.memory=nokmem); refused\n");
		return -EOPNOTSUPP;
	}
	return 0;
}

int hpa_account_charge(struct hpa_buffer *buf, const struct hpa_alloc_req *req,
		       enum hpa_charge mode)
{
	int ret;

	if (!current->mm)
		return -EINVAL;
	switch (mode) {
	case HPA_CHARGE_MEMLOCK:
		ret = hpa_account_memlock(buf);
		break;
	case HPA_CHARGE_MEMCG:
		/* each page is charged as it is allocated */
		ret = hpa_account_memcg_check(req);
		break;
	default:
		ret = -EINVAL;
	}
	if (!ret)
		buf->charge = mode;
	return ret;
}

void hpa_account_uncharge(struct hpa_buffer *buf)
{
	if (buf->charge != HPA_CHARGE_MEMLOCK || !buf->user)
		return;
	atomic_long_sub(buf->locked_pages, &buf->user->locked_vm);
	free_uid(buf->user);
	buf->user = NULL;
	buf->locked_pages = 0;
}

/*
 * A zeroed 2 MiB page of node nid, charged to the caller's memory cgroup.
 * __GFP_RETRY_MAYFAIL: over memory.max the charge fails after the cgroup's
 * own reclaim, without invoking the OOM killer; __GFP_NOWARN: that failure
 * is the caller's limit, not a kernel problem worth a log line.
 */
struct page *hpa_account_alloc_page(int nid)
{
	gfp_t gfp = GFP_HIGHUSER | __GFP_THISNODE | __GFP_COMP | __GFP_ZERO |
		    __GFP_NOWARN | __GFP_RETRY_MAYFAIL | __GFP_ACCOUNT;
	struct mem_cgroup *memcg, *old;
	struct page *page;

	if (nid < 0 || nid >= MAX_NUMNODES || !node_state(nid, N_MEMORY))
		return NULL;
	memcg = get_mem_cgroup_from_mm(current->mm);
	old = set_active_memcg(memcg);
	page = alloc_pages_node(nid, gfp, PMD_ORDER);
	set_active_memcg(old);
	mem_cgroup_put(memcg);
	return page;
}

/*
 * Freeing uncharges.  A page someone else still holds a reference on (a
 * GUP pin on 6.1) stays charged and allocated until that reference drops:
 * the page allocator frees it, never zeroed or reused before.
 */
void hpa_account_free_page(struct page *page)
{
	__free_pages(page, PMD_ORDER);
}
