/* SPDX-License-Identifier: MIT */
/*
 * Between os.c and prim-device.c, nobody else: the device backend
 * (/dev/hpalloc) as the primitive layer uses it.  os.c keeps the choice
 * of backend and the fallback policy; prim-device.c keeps the device's
 * file, its version and the chunk table of the handles mapped in the
 * reservation.  Return values: 0 or -errno unless said otherwise.
 */
#ifndef HPA_PRIM_DEVICE_H
#define HPA_PRIM_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prim.h"

/* Open and check the device; false if unusable (HPALLOC_DEBUG says why). */
bool hpa_dev_probe(void);
/* The reservation is [base, base+size): set up its chunk table. */
void hpa_dev_reserved(char *base, size_t size);
/* The device was opened (hpa_dev_probe()) and serves 1 GiB pages. */
bool hpa_dev_has_1g(void);
/* Heap memory from the device at addr (1 GiB pages if use_1g). */
int hpa_dev_commit(void *addr, size_t len, int node, bool use_1g);
/* [addr, addr+len) maps nothing of the device any more: forget it. */
void hpa_dev_forget(void *addr, size_t len);
/*
 * Move device chunks from to to by mapping their handles again; 1 when
 * [from, from+len) holds no device memory (the caller moves it), else 0 or
 * -errno (-EOPNOTSUPP for a mixed run: the caller copies).
 */
int hpa_dev_move(void *from, void *to, size_t len);
/*
 * Physical address of p: of the DMA buffer handle mapped at map_start if
 * map_start, else of the device heap chunk holding p; 1 when p is not
 * device memory (the caller asks pagemap).
 */
int hpa_dev_virt2phys(const void *p, uint64_t handle, void *map_start,
		      uint64_t *phys);
/* prim.h's dma_commit (-ENODEV without the contiguous feature) and the rest. */
int hpa_dev_dma_commit(void *addr, size_t len, int node, bool page_1g,
		       uint64_t *handle);
int hpa_dev_dma_release(void *addr, size_t len, uint64_t handle);
int hpa_dev_dma_query(uint64_t handle, uint64_t *phys, size_t n,
		      struct hpa_dma_query *out);
int hpa_dev_dma_export(uint64_t handle, bool readonly);
/* fork: chunks of device heap memory mapped now; whether addr's is one. */
uint64_t hpa_dev_heap_chunks(void);
bool hpa_dev_heap_shared(const void *addr);
/* [addr, addr+len) was made private: drop its entries, free no handle. */
void hpa_dev_drop(void *addr, size_t len);
/* In the child after fork: every handle mapped now is the parent's. */
void hpa_dev_fork_child(void);

#endif
