// SPDX-License-Identifier: MIT
/*
 * The primitive layer's policy, above its backends: which backend serves
 * a commit, the fallback to the next one down when it cannot (running out
 * of huge pages degrades, it never fails), the per-backend failure counts
 * (hpa_stats.fallbacks), and the operations table (prim.h) that the
 * allocator calls.  The backends below it, best first:
 *
 *   device   /dev/hpalloc: prim-device.c (prim-device.h)
 *   hugetlb  prim.c (prim-host.h), only when asked (HPALLOC_BACKEND)
 *   thp      prim.c
 *   4k       prim.c
 *
 * Nothing here opens, ioctls or maps: that is prim.c and prim-device.c.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "prim-device.h"
#include "prim-host.h"

static bool be_usable[HPA_BACKEND_MAX];
static enum hpa_backend be_best = HPA_BACKEND_4K;
static _Atomic bool be_fail_told[HPA_BACKEND_MAX];

static const char *const be_names[HPA_BACKEND_MAX] = {
	[HPA_BACKEND_DEVICE] = "device",
	[HPA_BACKEND_HUGETLB] = "hugetlb",
	[HPA_BACKEND_THP] = "thp",
	[HPA_BACKEND_4K] = "4k",
};

HPA_EXPORT const char *hpa_backend_name(unsigned int backend)
{
	return backend < HPA_BACKEND_MAX ? be_names[backend] : NULL;
}

int hpa_backend_by_name(const char *name)
{
	int be;

	for (be = 0; be < HPA_BACKEND_MAX; be++)
		if (!strcmp(name, be_names[be]))
			return be;
	return -EINVAL;
}

static bool os_has_1g(void)
{
	if (be_best == HPA_BACKEND_DEVICE)
		return hpa_dev_has_1g();
	return be_best == HPA_BACKEND_HUGETLB && hpa_host_hugetlb_1g();
}

static int backend_commit(enum hpa_backend be, void *addr, size_t len,
			  int node, bool use_1g, unsigned int *shift)
{
	if (be != HPA_BACKEND_DEVICE)
		return hpa_host_commit(be, addr, len, node, use_1g, shift);
	*shift = use_1g ? 30 : 21;
	return hpa_dev_commit(addr, len, node, use_1g);
}

static int os_commit(void *addr, size_t len, int node, unsigned int flags,
		     struct hpa_commit *out)
{
	bool aligned_1g = !((uintptr_t)addr & (HPA_GiB - 1)) &&
			  !(len & (HPA_GiB - 1));
	bool allow_1g = flags & HPA_COMMIT_1G;
	int be, err = -ENOMEM;

	out->fallback = false;
	be = flags & HPA_COMMIT_SMALL ? HPA_BACKEND_4K : be_best;
	for (; be < HPA_BACKEND_MAX; be++) {
		unsigned int shift;
		bool use_1g = allow_1g && aligned_1g && be == (int)be_best &&
			      os_has_1g();

		if (!be_usable[be])
			continue;
		err = backend_commit(be, addr, len, node, use_1g, &shift);
		if (err && use_1g)
			err = backend_commit(be, addr, len, node, false, &shift);
		if (!err) {
			out->backend = (uint8_t)be;
			out->page_shift = (uint8_t)shift;
			return 0;
		}
		if (!atomic_exchange(&be_fail_told[be], true))
			hpa_debug("%s: a map of %zu MiB failed (%s): it and "
				  "later ones fall back to the next backend, "
				  "counted in hpa_stats.fallbacks\n",
				  be_names[be], len >> 20,
				  strerrordesc_np(-err));
		hpa_stat_add(&hpa_gstats.be_fail[be], 1);
		out->fallback = true;
		/* A node the kernel refuses is the caller's error everywhere. */
		if (err == -EINVAL)
			return err;
	}
	return err;
}

static int os_dma_commit(void *addr, size_t len, int node, bool page_1g,
			 uint64_t *handle)
{
	if (be_best != HPA_BACKEND_DEVICE)
		return -ENODEV;
	return hpa_dev_dma_commit(addr, len, node, page_1g, handle);
}

/* The first usable backend in order of preference (4K always is). */
static enum hpa_backend pick_best(void)
{
	int be;

	for (be = 0; be < HPA_BACKEND_MAX; be++)
		if (be_usable[be])
			break;
	return (enum hpa_backend)be;
}

static enum hpa_backend os_init(const char *forced)
{
	int start = HPA_BACKEND_DEVICE;

	hpa_host_init();
	if (forced && hpa_backend_by_name(forced) >= 0)
		start = hpa_backend_by_name(forced);
	be_usable[HPA_BACKEND_DEVICE] = start <= HPA_BACKEND_DEVICE &&
					hpa_dev_probe();
	/*
	 * hugetlb pages are what an administrator set aside (vm.nr_hugepages)
	 * for some program: DPDK, a database.  Taking them unasked would
	 * starve it, and they do not show in RSS.  Only when asked.
	 */
	be_usable[HPA_BACKEND_HUGETLB] = start == HPA_BACKEND_HUGETLB &&
					 hpa_host_probe_hugetlb();
	if (start != HPA_BACKEND_HUGETLB && start < HPA_BACKEND_THP)
		hpa_debug("hugetlb: not used unless asked "
			  "(HPALLOC_BACKEND=hugetlb): the pool is reserved "
			  "for whoever the administrator set it aside for\n");
	be_usable[HPA_BACKEND_THP] = start <= HPA_BACKEND_THP &&
				      hpa_host_probe_thp();
	be_usable[HPA_BACKEND_4K] = true;
	be_best = pick_best();
	if (forced && strcmp(forced, "auto") && (int)be_best != start)
		hpa_log("HPALLOC_BACKEND=%s is not available here; using %s "
			"(HPALLOC_DEBUG=1 says why)\n", forced,
			be_names[be_best]);
	hpa_debug("backend %s chosen%s\n", be_names[be_best],
		  start > HPA_BACKEND_DEVICE ? " (forced)" : "");
	return be_best;
}

static void *os_reserve(size_t *size, size_t min, size_t align)
{
	void *p = hpa_host_reserve(size, min, align);

	if (p)
		hpa_dev_reserved(p, *size);
	return p;
}

static int os_decommit(void *addr, size_t len)
{
	int err = hpa_host_prot_none(addr, len);

	if (!err)
		hpa_dev_forget(addr, len);
	return err;
}

static int os_move(void *from, void *to, size_t len)
{
	int err = hpa_dev_move(from, to, len);

	if (err <= 0)
		return err;	/* device memory, moved or not */
	return hpa_host_move(from, to, len);
}

static int os_virt2phys(const void *p, uint64_t handle, void *map_start,
			uint64_t *phys)
{
	int err = hpa_dev_virt2phys(p, handle, map_start, phys);

	/* Device memory: pagemap cannot see PFN mappings; the device said. */
	return err <= 0 ? err : hpa_host_virt2phys(p, phys);
}

/* ---- fork (fork.c) ---------------------------------------------------- */

/* The device handles of the range are forgotten, never freed. */
static int os_privatize(void *addr, size_t len, int node, bool copy,
			struct hpa_commit *out)
{
	enum hpa_backend be = be_usable[HPA_BACKEND_THP] ? HPA_BACKEND_THP :
			      HPA_BACKEND_4K;
	int err = hpa_host_privatize(addr, len, node, copy, be, out);

	if (!err)
		hpa_dev_drop(addr, len);
	return err;
}

/* DMA buffers stay the parent's (prim-device.c); new memory is private. */
static enum hpa_backend os_fork_child(void)
{
	hpa_dev_fork_child();
	be_usable[HPA_BACKEND_DEVICE] = false;
	be_best = pick_best();
	return be_best;
}

const struct hpa_prim_ops hpa_prim_os = {
	.name = "os",
	.reserve = os_reserve,
	.meta_map = hpa_host_meta_map,
	.commit = os_commit,
	.decommit = os_decommit,
	.move = os_move,
	.dma_commit = os_dma_commit,
	.dma_release = hpa_dev_dma_release,
	.virt2phys = os_virt2phys,
	.dma_query = hpa_dev_dma_query,
	.dma_export = hpa_dev_dma_export,
	.map_fd = hpa_host_map_fd,
	.unmap_fd = hpa_host_unmap_fd,
	.fd_size = hpa_host_fd_size,
	.current_node = hpa_host_current_node,
	.node_online = hpa_host_node_online,
	.init = os_init,
	.has_1g = os_has_1g,
	.shared_heap_chunks = hpa_dev_heap_chunks,
	.heap_shared = hpa_dev_heap_shared,
	.privatize = os_privatize,
	.fork_child = os_fork_child,
};

const struct hpa_prim_ops *hpa_prim = &hpa_prim_os;

void hpa_prim_set(const struct hpa_prim_ops *ops)
{
	hpa_prim = ops;
}

