// SPDX-License-Identifier: MIT
/*
 * Start-up and fork: hpa_init_slow (options, size classes, the backend,
 * the reservation, heaps, stats, once, under init_lock) and the atfork
 * handlers that take every lock of the library around fork().
 */
#include <pthread.h>
#include <sched.h>

#include "fork.h"
#include "internal.h"

_Atomic int hpa_initialized;
enum hpa_backend hpa_backend_chosen = HPA_BACKEND_4K;
static struct hpa_lock init_lock = HPA_LOCK_INIT;

/*
 * fork() while another thread allocates: every lock is taken before and
 * released after, in parent and child, so the child never inherits a lock
 * held by a thread it does not have.  The init lock comes first: a fork
 * while another thread initialises the library waits for it to finish.
 * Registered once, by a constructor or (when a constructor that runs
 * earlier allocates) at the start of initialisation, never under
 * init_lock: glibc holds its atfork lock while it runs these, so a
 * registration made under init_lock could wait for a fork that waits for
 * init_lock.
 */
static void fork_prepare(void)
{
	hpa_lock(&init_lock);
	if (!atomic_load_explicit(&hpa_initialized, memory_order_relaxed))
		return;
	hpa_heaps_lock_all();
	hpa_pool_lock_all();
	hpa_lock(&hpa_arena.lock);
	hpa_fork_prepare_dev();
}

/* After fork, in parent or child: fork.c's part, then every lock. */
static void fork_release(void (*dev)(void))
{
	if (atomic_load_explicit(&hpa_initialized, memory_order_relaxed)) {
		dev();
		hpa_unlock(&hpa_arena.lock);
		hpa_pool_unlock_all();
		hpa_heaps_unlock_all();
	}
	hpa_unlock(&init_lock);
}

static void fork_parent(void)
{
	fork_release(hpa_fork_parent_dev);
}

static void fork_child(void)
{
	fork_release(hpa_fork_child_dev);
}

static _Atomic int fork_registered;	/* 0 no, 1 being registered, 2 yes */
static __thread bool fork_registering
	__attribute__((tls_model("initial-exec")));

static void fork_handlers_register(void)
{
	int expected = 0;

	if (atomic_compare_exchange_strong(&fork_registered, &expected, 1)) {
		/* pthread_atfork may malloc: that comes back here */
		fork_registering = true;
		pthread_atfork(fork_prepare, fork_parent, fork_child);
		fork_registering = false;
		atomic_store(&fork_registered, 2);
		return;
	}
	while (!fork_registering && atomic_load(&fork_registered) != 2)
		sched_yield();
}

__attribute__((constructor)) static void fork_handlers(void)
{
	fork_handlers_register();
}

void hpa_init_slow(void)
{
	int err;

	fork_handlers_register();
	hpa_lock(&init_lock);
	if (atomic_load(&hpa_initialized)) {
		hpa_unlock(&init_lock);
		return;
	}
	hpa_options_init();
	hpa_sizeclass_init();
	hpa_backend_chosen = hpa_prim->init(hpa_option_str(HPA_OPT_BACKEND));
	err = hpa_arena_init((size_t)hpa_option_int(HPA_OPT_RESERVE));
	if (err)
		hpa_fatal("cannot reserve address space (HPALLOC_RESERVE=%s)\n",
			  hpa_option_str(HPA_OPT_RESERVE));
	hpa_debug("reserved %zu MiB at %p\n", hpa_arena.size >> 20,
		  (void *)hpa_arena.base);
	hpa_heaps_init();
	hpa_stats_init();
	atomic_store_explicit(&hpa_initialized, 1, memory_order_release);
	hpa_unlock(&init_lock);
}
