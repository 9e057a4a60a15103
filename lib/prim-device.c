// SPDX-License-Identifier: MIT
/*
 * The device backend of the primitive layer: /dev/hpalloc
 * (include/uapi/linux/hpalloc.h).  HPALLOC_IOC_ALLOC, then
 * mmap(MAP_SHARED | MAP_FIXED) of the returned handle into the reservation.
 * Handles are kept in the chunk table below: moving a block maps the same
 * handle again elsewhere, HPALLOC_IOC_QUERY needs it for physical
 * addresses, and a forked child replaces device memory by private copies
 * (fork.c).  The DMA buffers' ioctls (query, dma-buf export) are here too.
 * Its only caller is os.c, through prim-device.h; which backend serves a
 * commit, and what happens when this one cannot, is os.c's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/hpalloc.h>

#include "internal.h"
#include "prim-device.h"
#include "prim-host.h"

static int dev_fd = -1;
static struct hpalloc_version dev_version;
static char *res_base;		/* the reservation (hpa_dev_reserved) */
static size_t res_size;

/*
 * Device chunk table: for every 2 MiB chunk of the reservation, the device
 * file offset mapped there (handle + offset in the buffer; handles are
 * id << HPALLOC_HANDLE_SHIFT, so a chunk's entry is never 0 when mapped)
 * plus flag bits in the low bits (offsets are 2 MiB aligned).  A buffer's
 * handle is freed when the last chunk mapping it is decommitted: dev_refs
 * counts them per handle id (the module hands out the lowest free id).
 */
#define DEV_DMA		1ULL	/* chunk of a DMA buffer */
#define DEV_INHERITED	2ULL	/* fork child: the parent's handle, never freed */
#define DEV_FLAGS	(DEV_DMA | DEV_INHERITED)
#define DEV_MAX_IDS	(1UL << (63 - HPALLOC_HANDLE_SHIFT))

static uint64_t *dev_table;
static _Atomic uint32_t *dev_refs;
static _Atomic uint64_t dev_heap_chunks;	/* non-DMA entries */

/* At the reservation, when the device is in use: entries for every chunk. */
static void dev_table_init(void)
{
	dev_refs = hpa_host_meta_map(DEV_MAX_IDS * sizeof(*dev_refs));
	dev_table = hpa_host_meta_map((res_size >> HPA_CHUNK_SHIFT) *
				sizeof(*dev_table));
	if (!dev_refs)
		dev_table = NULL;	/* device_map refuses: fallback */
}

/* The table slot of addr, NULL outside the reservation or without table. */
static uint64_t *dev_slot(const void *addr)
{
	uintptr_t off = (uintptr_t)addr - (uintptr_t)res_base;

	if (!dev_table || off >= res_size)
		return NULL;
	return &dev_table[off >> HPA_CHUNK_SHIFT];
}

static void dev_handle_free(uint64_t handle)
{
	struct hpalloc_free f = { .offset = handle };

	ioctl(dev_fd, HPALLOC_IOC_FREE, &f);
}

/* Record that [addr, addr+len) maps the device buffer handle from its start. */
static void dev_record(void *addr, size_t len, uint64_t handle, uint64_t flags)
{
	size_t i, n = len >> HPA_CHUNK_SHIFT;
	uint64_t *slot = dev_slot(addr);

	atomic_store(&dev_refs[handle >> HPALLOC_HANDLE_SHIFT], (uint32_t)n);
	for (i = 0; i < n; i++)
		slot[i] = (handle + (i << HPA_CHUNK_SHIFT)) | flags;
	if (!(flags & DEV_DMA))
		hpa_stat_add(&dev_heap_chunks, (int64_t)n);
}

/*
 * [addr, addr+len) no longer maps what the table says: drop its entries and
 * free each handle whose last chunk this was (never an inherited one: it
 * belongs to the parent's open file).
 */
void hpa_dev_forget(void *addr, size_t len)
{
	uint64_t *slot = dev_slot(addr);
	size_t i, n = len >> HPA_CHUNK_SHIFT;

	for (i = 0; slot && i < n; i++) {
		uint64_t e = slot[i], id = e >> HPALLOC_HANDLE_SHIFT;

		if (!e)
			continue;
		slot[i] = 0;
		if (!(e & DEV_DMA))
			hpa_stat_add(&dev_heap_chunks, -1);
		if (e & DEV_INHERITED)
			continue;
		if (atomic_fetch_sub(&dev_refs[id], 1) == 1)
			dev_handle_free(id << HPALLOC_HANDLE_SHIFT);
	}
}

static int device_map(void *addr, size_t len, int node, unsigned int page,
		      uint32_t flags, uint64_t *handle)
{
	struct hpalloc_alloc a = {
		.size = len,
		.flags = flags,
		.page_size = page,
		.policy = node < 0 ? HPALLOC_POLICY_LOCAL : HPALLOC_POLICY_BIND,
		.nodemask = node < 0 ? 0 : 1ULL << node,
	};
	void *p;
	int err;

	if (!dev_slot(addr))
		return -ENOMEM;
	if (ioctl(dev_fd, HPALLOC_IOC_ALLOC, &a) != 0)
		return -errno;
	p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 dev_fd, (off_t)a.offset);
	if (p == MAP_FAILED) {
		err = -errno;
		dev_handle_free(a.offset);
		hpa_host_prot_none(addr, len);
		return err;
	}
	dev_record(addr, len, a.offset, handle ? DEV_DMA : 0);
	if (handle)
		*handle = a.offset;
	return 0;
}

/*
 * Move device chunks by mapping their handles again at the new address
 * (the same physical pages appear there; the kernel refuses to grow device
 * mappings and MREMAP_DONTUNMAP on PFN mappings), then covering the old
 * range with PROT_NONE: no byte copied, and never a hole in the reservation.
 */
static int device_move(uint64_t *from, char *to, size_t n)
{
	size_t i = 0, j;
	void *p;

	for (i = 0; i < n; i++)
		if (!from[i] || (from[i] & DEV_FLAGS))
			return -EOPNOTSUPP;	/* mixed run: caller copies */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n; j++)
			if (from[j] != from[j - 1] + HPA_CHUNK_SIZE)
				break;
		p = mmap(to + (i << HPA_CHUNK_SHIFT), (j - i) << HPA_CHUNK_SHIFT,
			 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 dev_fd, (off_t)from[i]);
		if (p == MAP_FAILED) {
			int err = -errno;

			hpa_host_prot_none(to, n << HPA_CHUNK_SHIFT);
			return err;
		}
	}
	return 0;
}

static bool dev_any(const uint64_t *slot, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (slot[i])
			return true;
	return false;
}

int hpa_dev_dma_commit(void *addr, size_t len, int node, bool page_1g,
		       uint64_t *handle)
{
	if (dev_fd < 0 || !(dev_version.features & HPALLOC_FEAT_CONTIG))
		return -ENODEV;
	return device_map(addr, len, node, page_1g ? HPALLOC_PAGE_SIZE_1G :
			  HPALLOC_PAGE_SIZE_2M, HPALLOC_ALLOC_CONTIG, handle);
}

int hpa_dev_dma_release(void *addr, size_t len, uint64_t handle)
{
	uint64_t *slot = dev_slot(addr);
	int err;

	if (!slot || (slot[0] & ~DEV_FLAGS) != handle)
		return -EINVAL;
	err = hpa_host_prot_none(addr, len);
	if (!err)
		hpa_dev_forget(addr, len);
	return err;
}

/* Physical address of byte off of the device buffer handle. */
static int device_phys(uint64_t handle, uint64_t off, uint64_t *phys)
{
	struct hpalloc_page_info info = { 0 };
	struct hpalloc_query q = { 0 };

	q.offset = handle;
	q.flags = HPALLOC_QUERY_PHYS;
	q.pages_ptr = (uintptr_t)&info;
	q.nr_entries = 1;
	/* Ask page 0 first to learn the page size, then the right page. */
	if (ioctl(dev_fd, HPALLOC_IOC_QUERY, &q) != 0)
		return -errno;
	if (!q.page_size || off >= q.alloc_size)
		return -EFAULT;
	if (off >= q.page_size) {
		q.first_page = (uint32_t)(off / q.page_size);
		if (ioctl(dev_fd, HPALLOC_IOC_QUERY, &q) != 0)
			return -errno;
	}
	if (q.nr_filled != 1)
		return -EFAULT;
	*phys = info.phys + off % q.page_size;
	return 0;
}

/*
 * One HPALLOC_IOC_QUERY for the whole table.  The kernel's records are
 * {phys, node}; they go to a scratch array (on the stack when small, else
 * mapped: this library cannot call malloc) and the addresses into phys[].
 */
#define DMA_QUERY_STACK	64

int hpa_dev_dma_query(uint64_t handle, uint64_t *phys, size_t n,
		      struct hpa_dma_query *out)
{
	struct hpalloc_page_info small[DMA_QUERY_STACK], *info = small;
	struct hpalloc_query q = { 0 };
	size_t i, bytes = 0;
	int err = 0;

	if (dev_fd < 0)
		return -ENODEV;
	if (n > UINT32_MAX)
		n = UINT32_MAX;
	if (n > DMA_QUERY_STACK) {
		bytes = n * sizeof(*info);
		info = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (info == MAP_FAILED)
			return -ENOMEM;
	}
	q.offset = handle;
	q.flags = n ? HPALLOC_QUERY_PHYS : 0;
	q.pages_ptr = (uintptr_t)info;
	q.nr_entries = (uint32_t)n;
	if (ioctl(dev_fd, HPALLOC_IOC_QUERY, &q) != 0) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < q.nr_filled; i++)
		phys[i] = info[i].phys;
	out->page_size = q.page_size;
	out->nr_pages = q.nr_pages;
	out->nodes = q.nodes;
out:
	if (bytes)
		munmap(info, bytes);
	return err;
}

int hpa_dev_dma_export(uint64_t handle, bool readonly)
{
	struct hpalloc_export_dmabuf e = { 0 };

	if (dev_fd < 0)
		return -ENODEV;
	if (!(dev_version.features & HPALLOC_FEAT_DMABUF))
		return -EOPNOTSUPP;
	e.offset = handle;
	e.flags = HPALLOC_EXPORT_CLOEXEC |
		  (readonly ? 0 : HPALLOC_EXPORT_WRITE);
	if (ioctl(dev_fd, HPALLOC_IOC_EXPORT_DMABUF, &e) != 0)
		return -errno;
	return e.fd;
}

bool hpa_dev_probe(void)
{
	int fd = open(HPALLOC_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		hpa_debug("device: %s: %s\n", HPALLOC_DEVICE, strerrordesc_np(errno));
		return false;
	}
	memset(&dev_version, 0, sizeof(dev_version));
	if (ioctl(fd, HPALLOC_IOC_VERSION, &dev_version) != 0) {
		hpa_debug("device: HPALLOC_IOC_VERSION: %s\n", strerrordesc_np(errno));
		close(fd);
		return false;
	}
	if (dev_version.api != HPALLOC_API_VERSION ||
	    !(dev_version.features & HPALLOC_FEAT_PMD)) {
		hpa_debug("device: api %u (want %u), features 0x%llx: "
			  "not usable\n", dev_version.api, HPALLOC_API_VERSION,
			  (unsigned long long)dev_version.features);
		close(fd);
		return false;
	}
	dev_fd = fd;
	hpa_debug("device: api %u, features 0x%llx, %u node ids\n",
		  dev_version.api, (unsigned long long)dev_version.features,
		  dev_version.nr_node_ids);
	return true;
}

void hpa_dev_reserved(char *base, size_t size)
{
	res_base = base;
	res_size = size;
	if (dev_fd >= 0)
		dev_table_init();
}

bool hpa_dev_has_1g(void)
{
	return dev_fd >= 0 && (dev_version.features & HPALLOC_FEAT_PUD);
}

int hpa_dev_commit(void *addr, size_t len, int node, bool use_1g)
{
	return device_map(addr, len, node, use_1g ? HPALLOC_PAGE_SIZE_1G :
			  HPALLOC_PAGE_SIZE_2M, 0, NULL);
}

int hpa_dev_move(void *from, void *to, size_t len)
{
	uint64_t *src = dev_slot(from), *dst = dev_slot(to);
	size_t n = len >> HPA_CHUNK_SHIFT;
	int err;

	if (!src || !dst || !dev_any(src, n))
		return 1;
	err = device_move(src, to, n);
	if (err)
		return err;
	memcpy(dst, src, n * sizeof(*src));
	memset(src, 0, n * sizeof(*src));
	return hpa_host_prot_none(from, len);
}

int hpa_dev_virt2phys(const void *p, uint64_t handle, void *map_start,
		      uint64_t *phys)
{
	const uint64_t *slot = dev_slot(p);
	uint64_t e, in_buf;

	if (map_start)
		return device_phys(handle, (uintptr_t)p - (uintptr_t)map_start,
				   phys);
	/* Device heap memory: pagemap cannot see PFN mappings; ask the device. */
	e = slot ? *slot & ~DEV_FLAGS : 0;
	if (!e)
		return 1;
	in_buf = e & ((1ULL << HPALLOC_HANDLE_SHIFT) - 1);
	return device_phys(e - in_buf, in_buf + ((uintptr_t)p & HPA_CHUNK_MASK),
			   phys);
}

/* ---- fork (fork.c) ---------------------------------------------------- */

uint64_t hpa_dev_heap_chunks(void)
{
	return atomic_load(&dev_heap_chunks);
}

bool hpa_dev_heap_shared(const void *addr)
{
	const uint64_t *slot = dev_slot(addr);

	return slot && *slot && !(*slot & DEV_DMA);
}

void hpa_dev_drop(void *addr, size_t len)
{
	uint64_t *slot = dev_slot(addr);
	size_t i, n = len >> HPA_CHUNK_SHIFT;

	for (i = 0; slot && i < n; i++) {
		if (slot[i] && !(slot[i] & DEV_DMA))
			hpa_stat_add(&dev_heap_chunks, -1);
		slot[i] = 0;
	}
}

/*
 * Inherited DMA handles are the parent's: never freed here.  dev_fd stays
 * open: it is the parent's open file, needed only to ask for the physical
 * addresses of the DMA buffers the child inherited.
 */
void hpa_dev_fork_child(void)
{
	size_t i, n = res_size >> HPA_CHUNK_SHIFT;

	for (i = 0; dev_table && i < n; i++)
		if (dev_table[i])
			dev_table[i] |= DEV_INHERITED;
}
