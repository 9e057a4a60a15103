/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hpalloc internals: node pools of 2 MiB / 1 GiB pages, buffers made of
 * them, and the open files that own buffers.
 */
#ifndef _HPALLOC_INTERNAL_H
#define _HPALLOC_INTERNAL_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/page-flags.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#define HPALLOC_VERSION		"1.0.0"

enum hpa_size {
	HPA_2M,
	HPA_1G,
	HPA_NR_SIZES
};

static inline unsigned int hpa_size_order(enum hpa_size size)
{
	return size == HPA_1G ? PUD_SHIFT - PAGE_SHIFT : PMD_SHIFT - PAGE_SHIFT;
}

static inline unsigned long hpa_size_bytes(enum hpa_size size)
{
	return PAGE_SIZE << hpa_size_order(size);
}

/* The name of a size in sysfs and in messages. */
static inline const char *hpa_size_name(enum hpa_size size)
{
	return size == HPA_1G ? "1G" : "2M";
}

/*
 * One pool per (node with memory, page size).  Every page it accounts for is
 * in exactly one of: free (zeroed, ready), in use (owned by a buffer), or
 * zeroing (freed by a buffer, waiting to be zeroed, or still pinned by
 * someone else).  total = free + in_use + zeroing; a page being converted
 * to the node's other page size (pool.c) is in neither pool until that is
 * done.  Only pool.c takes the lock or edits the counters; everyone else
 * goes through its functions.
 */
struct hpa_pool {
	int nid;
	enum hpa_size size;
	unsigned int order;

	spinlock_t lock;		/* lists and counters below */
	struct list_head free_list;	/* zeroed, ready to hand out */
	struct list_head dirty_list;	/* to be zeroed by the worker */
	struct list_head pinned_list;	/* referenced by others; retry later */
	unsigned long nr_free;
	unsigned long nr_in_use;
	unsigned long nr_zeroing;
	unsigned long target;		/* pages the pool tries to hold */
	unsigned long min;		/* the shrinker stops here */
	bool dying;			/* workers must not queue each other */

	/* statistics, under lock */
	unsigned long allocs;
	unsigned long failures;
	unsigned long contig_requests;
	unsigned long contig_failures;
	unsigned long shrinker_released;
	unsigned long zeroed;

	/*
	 * Searches for contiguous ranges of this pool's page size (1 GiB
	 * pages, contiguous buffers), under lock: ranges alloc_contig_range()
	 * was tried on, and ranges given up because of a page that never
	 * moves, a pinned page, or movable pages that would not migrate after
	 * HPA_CONTIG_TRIES attempts; ranges whose only obstacle was the
	 * node's own free 2 MiB pool pages (released, then the range taken).
	 */
	unsigned long ranges_tried;
	unsigned long ranges_unmovable;
	unsigned long ranges_pinned;
	unsigned long ranges_busy;
	unsigned long ranges_own_2m;
	unsigned long released_for_1g;	/* 2 MiB pages given up for them */
	unsigned long steered;		/* 2 MiB pages grown in broken GiBs */

	/*
	 * 1 GiB pools only, under lock: 1 GiB pages split into 2 MiB pages
	 * of the node's 2 MiB pool, 1 GiB pages merged from 512 of them,
	 * 2 MiB pieces a conversion found written to (someone had that
	 * memory while it was back with the page allocator) and zeroed, and
	 * pieces it could not take back from the page allocator.
	 */
	unsigned long split;
	unsigned long merged;
	unsigned long convert_dirty;
	unsigned long convert_lost;
	unsigned long splitting;	/* 1 GiB pages being split now */
	unsigned long merging;		/* GiBs of 2 MiB pages being merged */
	struct mutex convert_lock;	/* one conversion of the node at once */

	struct mutex resize_lock;	/* one grower / shrinker via sysfs */
	struct work_struct zero_work;
	struct delayed_work pinned_work;
};

/* A pool's counters at one moment, for sysfs. */
struct hpa_pool_stats {
	unsigned long total, free, in_use, zeroing;
	unsigned long allocs, failures, contig_requests, contig_failures;
	unsigned long shrinker_released, zeroed;
	unsigned long ranges_tried, ranges_unmovable, ranges_pinned;
	unsigned long ranges_busy, ranges_own_2m, released_for_1g, steered;
	unsigned long split, merged, convert_dirty, convert_lost;
};

/* What one search for a contiguous range saw, for the pool's counters. */
struct hpa_scan {
	unsigned long tried, unmovable, pinned, busy, own_2m;
};

/* Where a walk for steered 2 MiB pages is (see hpa_pages_steer_2m()). */
struct hpa_steer {
	int nid;
	int zone;			/* index in the node's zones */
	unsigned long pfn;		/* next 2 MiB block to look at */
	unsigned long gib_end;		/* end of the GiB last looked at */
	bool gib_broken;		/* ... holds a page that never moves */
	bool took;			/* a block was taken in this pass */
	bool second;			/* the second pass is on */
	bool done;
};

/* Ranges up to this size can be freed of the node's own 2 MiB pages. */
#define HPA_OWN_SLOTS		(1U << (PUD_ORDER - PMD_ORDER))

/* Pages of a buffer that came as one private contiguous range. */
#define HPA_BUF_CONTIG		BIT(0)	/* physically contiguous */
#define HPA_BUF_PRIVATE_RANGE	BIT(1)	/* one range, released as a whole */
#define HPA_BUF_PINNABLE	BIT(2)	/* every page is a compound folio */

/*
 * Is this pool page (or range) one compound folio?  2 MiB pool pages are,
 * unless they came from splitting a 1 GiB page made of order-0 pages;
 * 1 GiB pages are where compat.h says so.  Freeing, zeroing and the pin
 * check go by each page's own form.
 */
static inline bool hpa_page_compound(struct page *page)
{
	return PageHead(page);
}

/* What a buffer's pages are charged to (account.c). */
enum hpa_charge {
	HPA_CHARGE_MEMLOCK,	/* RLIMIT_MEMLOCK of the creating user */
	HPA_CHARGE_MEMCG,	/* the creator's memory cgroup, page by page */
};

/*
 * A buffer: nr_pages pages of one size.  References: the handle in the open
 * file (if it has one) and every vma that maps it; the last one gives the
 * pages back and the charge with them.
 */
struct hpa_buffer {
	struct kref ref;
	enum hpa_size size;
	unsigned int order;
	unsigned int flags;		/* HPA_BUF_* */
	enum hpa_charge charge;		/* how it was charged */
	unsigned int nr_pages;
	unsigned long pgoff;		/* first mmap pgoff of the buffer */
	u64 nodes;			/* nodes the pages came from */
	struct user_struct *user;	/* charged for RLIMIT_MEMLOCK */
	unsigned long locked_pages;	/* base pages charged to user */
	struct page *pages[];
};

static inline unsigned long hpa_buffer_bytes(const struct hpa_buffer *buf)
{
	return (unsigned long)buf->nr_pages << (buf->order + PAGE_SHIFT);
}

/* The state of one open /dev/hpalloc. */
struct hpa_file {
	struct xarray buffers;		/* handle id -> buffer, own lock */
};

/* What a buffer allocation asks for. */
struct hpa_alloc_req {
	enum hpa_size size;
	unsigned int nr_pages;
	unsigned int policy;		/* enum hpalloc_policy */
	u64 nodemask;
	bool contig;
};

/* params.c */
extern bool hpa_overcommit;
extern bool hpa_phys_group_access;
int hpa_params_parse(void);
unsigned long hpa_param_initial_pages(int nid, enum hpa_size size);

/* main.c */
extern atomic_long_t hpa_nr_buffers;
extern struct workqueue_struct *hpa_wq;

/* pool.c */
int hpa_pools_create(void);
bool hpa_pools_destroy(void);
struct hpa_pool *hpa_pool_of(int nid, enum hpa_size size);
struct page *hpa_pool_take(struct hpa_pool *pool);
bool hpa_pool_converts_first(enum hpa_size size);
bool hpa_pool_convert_for(struct hpa_pool *pool);
bool hpa_pool_convert_contig(struct hpa_pool *pool, unsigned int nr);
void hpa_pool_untake(struct hpa_pool *pool, struct page *page);
void hpa_pool_give_back(struct hpa_pool *pool, struct page *page);
int hpa_pool_take_contig(struct hpa_pool *pool, unsigned int nr,
			 struct page **pages);
struct page *hpa_pool_take_range(struct hpa_pool *pool, unsigned int nr,
				 bool *compound);
void hpa_pool_release_range(struct hpa_pool *pool, struct page *first,
			    unsigned int nr, bool compound);
bool hpa_pool_releasing(struct hpa_pool *pool);
bool hpa_pool_wait_for_zeroing(struct hpa_pool *pool, bool was_releasing);
unsigned long hpa_pool_nr_ready(struct hpa_pool *pool);
unsigned int hpa_pool_own_in_range(struct hpa_pool *small, unsigned long pfn,
				   unsigned long nr, unsigned long *own);
unsigned long hpa_pool_release_in_range(struct hpa_pool *small,
					unsigned long pfn, unsigned long nr);
int hpa_pool_resize(struct hpa_pool *pool, unsigned long target);
void hpa_pool_set_min(struct hpa_pool *pool, unsigned long min);
void hpa_pool_read_stats(struct hpa_pool *pool, struct hpa_pool_stats *st);
void hpa_pool_note_contig(struct hpa_pool *pool, bool failed);
void hpa_pool_note_failure(struct hpa_pool *pool);
unsigned long hpa_pool_nr_convertible(struct hpa_pool *pool);
int hpa_pool_split(struct hpa_pool *big, unsigned long nr);
int hpa_pool_merge(struct hpa_pool *big, unsigned long nr);

/* pages.c */
struct page *hpa_pages_alloc_2m(int nid);
void hpa_steer_init(struct hpa_steer *st, int nid);
struct page *hpa_pages_steer_2m(struct hpa_steer *st);
struct page *hpa_pages_alloc_range(int nid, enum hpa_size size,
				   unsigned int nr, bool *compound,
				   struct hpa_scan *scan);
void hpa_pages_free(struct page *page, unsigned long nr_base, bool compound);
void hpa_pages_zero(struct page *page, unsigned long nr);
bool hpa_pages_pinned(struct page *page, unsigned long nr_base,
		      bool compound);
unsigned int hpa_pages_split_1g(struct page *gib, struct list_head *pieces,
				unsigned int *dirty);
struct page *hpa_pages_merge_1g(unsigned long pfn, struct list_head *pieces,
				unsigned int *dirty, unsigned int *lost);
bool hpa_range_clearable(unsigned long pfn, unsigned long nr,
			 const unsigned long *own);
unsigned long hpa_node_capacity(int nid, enum hpa_size size);
long hpa_node_release_seq(int nid);
bool hpa_pages_all_returned(void);

/* account.c */
enum hpa_charge hpa_account_mode(void);
int hpa_account_charge(struct hpa_buffer *buf, const struct hpa_alloc_req *req,
		       enum hpa_charge mode);
void hpa_account_uncharge(struct hpa_buffer *buf);
struct page *hpa_account_alloc_page(int nid);
void hpa_account_free_page(struct page *page);

/* buffer.c */
struct hpa_buffer *hpa_buffer_create(const struct hpa_alloc_req *req);
void hpa_buffer_put(struct hpa_buffer *buf);
static inline void hpa_buffer_get(struct hpa_buffer *buf)
{
	kref_get(&buf->ref);
}

/* mmap.c */
int hpa_mmap(struct file *file, struct vm_area_struct *vma);
unsigned long hpa_get_unmapped_area(struct file *file, unsigned long addr,
				    unsigned long len, unsigned long pgoff,
				    unsigned long flags);
int hpa_vma_check_flags(struct vm_area_struct *vma);
void hpa_vma_set_buffer(struct vm_area_struct *vma, struct hpa_buffer *buf);

/* file.c */
int hpa_open(struct inode *inode, struct file *file);
int hpa_release(struct inode *inode, struct file *file);
int hpa_file_add_pending(struct hpa_file *hf, struct hpa_buffer *buf,
			 u32 max_id, u32 *id);
void hpa_file_publish(struct hpa_file *hf, u32 id);
void hpa_file_drop_pending(struct hpa_file *hf, u32 id);
struct hpa_buffer *hpa_file_remove(struct hpa_file *hf, u64 offset);
struct hpa_buffer *hpa_file_lookup(struct hpa_file *hf, u64 offset);

/* ioctl.c */
long hpa_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* dmabuf.c */
struct file *hpa_dmabuf_export(struct hpa_buffer *buf, unsigned int flags);

/* sysfs.c */
int hpa_sysfs_add(void);
void hpa_sysfs_remove(void);

#endif /* _HPALLOC_INTERNAL_H */
