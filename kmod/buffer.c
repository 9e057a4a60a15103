// SPDX-License-Identifier: GPL-2.0
/*
 * Buffers: the pages behind one mmap-able object.  A buffer lives while its
 * handle or any mapping of it exists; the last reference sends its pages
 * back to their pools (through zeroing), or to the page allocator when
 * they were charged to a memory cgroup, and drops the charge.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <uapi/linux/hpalloc.h>

#include "compat.h"
#include "internal.h"

static void hpa_buffer_release_pages(struct hpa_buffer *buf)
{
	unsigned int i;

	if (buf->flags & HPA_BUF_PRIVATE_RANGE) {
		struct page *first = buf->pages[0];

		hpa_pool_release_range(hpa_pool_of(page_to_nid(first),
						   buf->size),
				       first, buf->nr_pages,
				       buf->flags & HPA_BUF_PINNABLE);
		return;
	}
	for (i = 0; i < buf->nr_pages; i++) {
		struct page *page = buf->pages[i];

		if (!page)
			break;
		if (buf->charge == HPA_CHARGE_MEMCG) {
			hpa_account_free_page(page);
			continue;
		}
		hpa_pool_give_back(hpa_pool_of(page_to_nid(page), buf->size),
				   page);
	}
}

static void hpa_buffer_uncharge(struct hpa_buffer *buf)
{
	hpa_account_uncharge(buf);
}

static void hpa_buffer_destroy(struct kref *ref)
{
	struct hpa_buffer *buf = container_of(ref, struct hpa_buffer, ref);

	hpa_buffer_release_pages(buf);
	hpa_buffer_uncharge(buf);
	kvfree(buf);
	atomic_long_dec(&hpa_nr_buffers);
}

/*
 * The last put gives the pages back at once, whoever drops it (FREE, the
 * file's release, or the close of the last vma under mmap_lock): nothing
 * here takes mmap_lock, so the pool counters say so when the call returns.
 */
void hpa_buffer_put(struct hpa_buffer *buf)
{
	kref_put(&buf->ref, hpa_buffer_destroy);
}

/* The creator pays for the buffer as the accounting mode says (account.c). */
static int hpa_buffer_charge(struct hpa_buffer *buf,
			     const struct hpa_alloc_req *req,
			     enum hpa_charge mode)
{
	return hpa_account_charge(buf, req, mode);
}

/* The i-th node of a mask, counting from 0, wrapping around. */
static int hpa_nth_node(u64 mask, unsigned int i)
{
	unsigned int n = hweight64(mask);
	int nid;

	i %= n;
	for (nid = 0; nid < 64; nid++) {
		if (!(mask & BIT_ULL(nid)))
			continue;
		if (!i--)
			return nid;
	}
	return NUMA_NO_NODE;
}

/* The calling CPU's node, or the nearest one with memory. */
static int hpa_local_node(void)
{
	return numa_mem_id();
}

static struct page *hpa_take_on_node(const struct hpa_buffer *buf, int nid)
{
	struct hpa_pool *pool;

	if (buf->charge == HPA_CHARGE_MEMCG)
		return hpa_account_alloc_page(nid);
	pool = hpa_pool_of(nid, buf->size);
	return pool ? hpa_pool_take(pool) : NULL;
}

/* One page for page index i of a buffer, placed as the request says. */
static struct page *hpa_take_page(const struct hpa_buffer *buf,
				  const struct hpa_alloc_req *req,
				  unsigned int i)
{
	struct page *page;
	int nid;

	switch (req->policy) {
	case HPALLOC_POLICY_LOCAL:
		return hpa_take_on_node(buf, hpa_local_node());
	case HPALLOC_POLICY_INTERLEAVE:
		return hpa_take_on_node(buf, hpa_nth_node(req->nodemask, i));
	case HPALLOC_POLICY_BIND:
	case HPALLOC_POLICY_PREFERRED:
		for (nid = 0; nid < 64; nid++) {
			if (!(req->nodemask & BIT_ULL(nid)))
				continue;
			page = hpa_take_on_node(buf, nid);
			if (page)
				return page;
		}
		if (req->policy == HPALLOC_POLICY_BIND)
			return NULL;
		for_each_node_state(nid, N_MEMORY) {
			if (nid < 64 && (req->nodemask & BIT_ULL(nid)))
				continue;
			page = hpa_take_on_node(buf, nid);
			if (page)
				return page;
		}
		return NULL;
	}
	return NULL;
}

#define HPA_MAX_TRY_NODES	64

/* The nodes a buffer (contiguous, or not interleaved) may come from. */
static int hpa_contig_nodes(const struct hpa_alloc_req *req, int *nids)
{
	int n = 0, nid;

	if (req->policy == HPALLOC_POLICY_LOCAL) {
		nids[n++] = hpa_local_node();
		return n;
	}
	for (nid = 0; nid < HPA_MAX_TRY_NODES && nid < MAX_NUMNODES; nid++)
		if ((req->nodemask & BIT_ULL(nid)) && node_state(nid, N_MEMORY))
			nids[n++] = nid;
	if (req->policy != HPALLOC_POLICY_PREFERRED)
		return n;
	for_each_node_state(nid, N_MEMORY) {
		if (n == HPA_MAX_TRY_NODES)
			break;
		if (nid >= 64 || !(req->nodemask & BIT_ULL(nid)))
			nids[n++] = nid;
	}
	return n;
}

static void hpa_note_failure(int nid, enum hpa_size size)
{
	struct hpa_pool *pool = hpa_pool_of(nid, size);

	if (pool)
		hpa_pool_note_failure(pool);
}

/*
 * Could the nodes the request allows possibly give it?  Checked before
 * taking a page, so that an impossible request (more than the machine has)
 * fails with ENOMEM at once rather than after draining every node.
 */
static bool hpa_request_fits(const struct hpa_alloc_req *req)
{
	int nids[HPA_MAX_TRY_NODES];
	unsigned long have = 0;
	int i, n;

	if (req->policy == HPALLOC_POLICY_INTERLEAVE && !req->contig) {
		/* page i goes to the i-th node of the mask, strictly */
		unsigned int nr_nodes = hweight64(req->nodemask), j;

		for (j = 0; j < nr_nodes && j < req->nr_pages; j++) {
			unsigned long share = req->nr_pages / nr_nodes +
					      (j < req->nr_pages % nr_nodes);
			int nid = hpa_nth_node(req->nodemask, j);

			if (hpa_node_capacity(nid, req->size) < share) {
				hpa_note_failure(nid, req->size);
				return false;
			}
		}
		return true;
	}
	n = hpa_contig_nodes(req, nids);
	for (i = 0; i < n; i++) {
		unsigned long cap = hpa_node_capacity(nids[i], req->size);

		/* a contiguous buffer comes from one node */
		have = req->contig ? max(have, cap) : have + cap;
		if (have >= req->nr_pages)
			return true;
	}
	if (n)
		hpa_note_failure(nids[0], req->size);
	return false;
}

/*
 * GUP can count references on a buffer only if every page of it is a
 * compound folio; a 2 MiB page split from a 1 GiB page of order-0 pages is
 * not (see hpa_page_compound()).
 */
static bool hpa_buffer_pages_pinnable(const struct hpa_buffer *buf)
{
	unsigned int i;

	for (i = 0; i < buf->nr_pages; i++)
		if (!hpa_page_compound(buf->pages[i]))
			return false;
	return true;
}

/*
 * nr adjacent free pages of one of the nodes' pools, after a conversion in
 * that pool's node when convert says so (a split's 512 2 MiB pages are
 * one range, a merge makes one 1 GiB page).
 */
static int hpa_buffer_take_pool_run(struct hpa_buffer *buf,
				    const struct hpa_alloc_req *req,
				    const int *nids, int n, bool convert)
{
	int i;

	for (i = 0; i < n; i++) {
		struct hpa_pool *pool = hpa_pool_of(nids[i], req->size);

		if (!pool)
			continue;
		if (convert && !hpa_pool_convert_contig(pool, req->nr_pages))
			continue;
		if (!hpa_pool_take_contig(pool, req->nr_pages, buf->pages)) {
			hpa_pool_note_contig(pool, false);
			if (hpa_buffer_pages_pinnable(buf))
				buf->flags |= HPA_BUF_PINNABLE;
			return 0;
		}
	}
	return -ENOMEM;
}

/*
 * One try at a physically contiguous buffer: adjacent free pages of a pool
 * if there are such, else a conversion and one range from the page
 * allocator (when overcommit allows; it goes back to it as a whole), in
 * the order a single page's take tries them (hpa_pool_converts_first()).
 */
static int hpa_buffer_try_contig(struct hpa_buffer *buf,
				 const struct hpa_alloc_req *req,
				 const int *nids, int n)
{
	bool convert_first = hpa_pool_converts_first(req->size);
	unsigned long stride = 1UL << buf->order;
	int i;

	if (!hpa_buffer_take_pool_run(buf, req, nids, n, false))
		return 0;
	if (convert_first && !hpa_buffer_take_pool_run(buf, req, nids, n, true))
		return 0;
	for (i = 0; i < n && READ_ONCE(hpa_overcommit); i++) {
		struct hpa_pool *pool = hpa_pool_of(nids[i], req->size);
		struct page *first;
		bool compound = false;
		unsigned int j;

		if (!pool)
			continue;
		if (fatal_signal_pending(current))
			return -EINTR;
		first = hpa_pool_take_range(pool, req->nr_pages, &compound);
		if (!first)
			continue;
		for (j = 0; j < req->nr_pages; j++)
			buf->pages[j] = pfn_to_page(page_to_pfn(first) +
						    j * stride);
		buf->flags |= HPA_BUF_PRIVATE_RANGE;
		if (compound)
			buf->flags |= HPA_BUF_PINNABLE;
		hpa_pool_note_contig(pool, false);
		return 0;
	}
	if (!convert_first && !hpa_buffer_take_pool_run(buf, req, nids, n, true))
		return 0;
	return -ENOMEM;
}

/*
 * A physically contiguous buffer.  When no node has one at first, wait
 * once for the pages the allowed nodes are zeroing and try again, as
 * hpa_pool_take() does for a single page: a process that frees its only
 * 1 GiB page and asks for it again at once must get it.
 */
static int hpa_buffer_fill_contig(struct hpa_buffer *buf,
				  const struct hpa_alloc_req *req)
{
	int nids[HPA_MAX_TRY_NODES];
	int i, n = hpa_contig_nodes(req, nids), tries, ret = -ENOMEM;

	for (tries = 0; tries < 2; tries++) {
		bool releasing[HPA_MAX_TRY_NODES];
		bool waited = false;

		/* before the try: see hpa_pool_wait_for_zeroing() */
		for (i = 0; i < n; i++) {
			struct hpa_pool *pool = hpa_pool_of(nids[i],
							    req->size);

			releasing[i] = pool && hpa_pool_releasing(pool);
		}
		ret = hpa_buffer_try_contig(buf, req, nids, n);
		if (ret != -ENOMEM)
			return ret;
		if (fatal_signal_pending(current))
			return -EINTR;
		for (i = 0; i < n; i++) {
			struct hpa_pool *pool = hpa_pool_of(nids[i],
							    req->size);

			if (pool && hpa_pool_wait_for_zeroing(pool,
							      releasing[i]))
				waited = true;
		}
		if (!waited)
			break;
	}
	if (n) {
		struct hpa_pool *pool = hpa_pool_of(nids[0], req->size);

		if (pool) {
			hpa_pool_note_contig(pool, true);
			hpa_pool_note_failure(pool);
		}
	}
	return ret;
}

/*
 * Undo the first nr takes of hpa_buffer_fill(): pages no one has seen go
 * straight back to their pools, for a retry to find, with no worker.
 */
static void hpa_buffer_untake(struct hpa_buffer *buf, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		struct page *page = buf->pages[i];

		buf->pages[i] = NULL;
		if (buf->charge == HPA_CHARGE_MEMCG)
			hpa_account_free_page(page);
		else
			hpa_pool_untake(hpa_pool_of(page_to_nid(page),
						    buf->size), page);
	}
}

/* All of the buffer's pages, or none (and -errno). */
static int hpa_buffer_fill(struct hpa_buffer *buf,
			   const struct hpa_alloc_req *req)
{
	unsigned int i;
	int ret = 0;

	/* one charged page is contiguous; more are refused (account.c) */
	if (req->contig && buf->charge != HPA_CHARGE_MEMCG)
		return hpa_buffer_fill_contig(buf, req);

	for (i = 0; i < req->nr_pages; i++) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		buf->pages[i] = hpa_take_page(buf, req, i);
		if (!buf->pages[i]) {
			ret = -ENOMEM;
			break;
		}
		cond_resched();
	}
	if (ret)
		hpa_buffer_untake(buf, i);
	else if (hpa_buffer_pages_pinnable(buf))
		buf->flags |= HPA_BUF_PINNABLE;
	return ret;
}

/* Is [pages] one physical range, in order? */
static bool hpa_buffer_is_contig(const struct hpa_buffer *buf)
{
	unsigned long stride = 1UL << buf->order;
	unsigned int i;

	for (i = 1; i < buf->nr_pages; i++)
		if (page_to_pfn(buf->pages[i]) !=
		    page_to_pfn(buf->pages[0]) + i * stride)
			return false;
	return true;
}

struct hpa_buffer *hpa_buffer_create(const struct hpa_alloc_req *req)
{
	enum hpa_charge mode = hpa_account_mode();
	struct hpa_buffer *buf;
	unsigned int i;
	int ret;

	if (!req->nr_pages)
		return ERR_PTR(-EINVAL);
	/* charged pages never come from a pool */
	if (mode != HPA_CHARGE_MEMCG && !hpa_request_fits(req))
		return ERR_PTR(-ENOMEM);
	buf = kvzalloc(struct_size(buf, pages, req->nr_pages),
		       GFP_KERNEL_ACCOUNT);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	kref_init(&buf->ref);
	buf->size = req->size;
	buf->order = hpa_size_order(req->size);
	buf->nr_pages = req->nr_pages;

	ret = hpa_buffer_charge(buf, req, mode);
	if (ret)
		goto free_buffer;
	ret = hpa_buffer_fill(buf, req);
	if (ret)
		goto uncharge;

	for (i = 0; i < buf->nr_pages; i++)
		buf->nodes |= BIT_ULL(page_to_nid(buf->pages[i]) & 63);
	if (hpa_buffer_is_contig(buf))
		buf->flags |= HPA_BUF_CONTIG;
	atomic_long_inc(&hpa_nr_buffers);
	return buf;

	/* nothing here was seen by anyone: undone at once, in reverse */
uncharge:
	hpa_buffer_uncharge(buf);
free_buffer:
	kvfree(buf);
	return ERR_PTR(ret);
}
