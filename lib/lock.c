// SPDX-License-Identifier: MIT
/*
 * Adaptive lock: spin briefly (the holder is usually about to release it,
 * and on a pool refill the critical section is a few list operations), then
 * sleep on a futex so that a holder stuck in an mmap does not burn a core.
 * Three states as in Drepper's "Futexes are tricky": 0 free, 1 held,
 * 2 held with (possible) sleepers.
 */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define HPA_LOCK_SPINS	200

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void futex_wait(_Atomic uint32_t *addr, uint32_t val)
{
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_one(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void hpa_lock_slow(struct hpa_lock *l)
{
	uint32_t c;
	int i;

	for (i = 0; i < HPA_LOCK_SPINS; i++) {
		c = 0;
		if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(&l->state, &c, 1,
				memory_order_acquire, memory_order_relaxed))
			return;
		cpu_relax();
	}
	/* Announce a sleeper; whoever unlocks from state 2 wakes one. */
	c = atomic_exchange_explicit(&l->state, 2, memory_order_acquire);
	while (c != 0) {
		futex_wait(&l->state, 2);
		c = atomic_exchange_explicit(&l->state, 2, memory_order_acquire);
	}
}

void hpa_unlock_slow(struct hpa_lock *l)
{
	/* State was 2: the exchange in hpa_unlock already freed the lock. */
	futex_wake_one(&l->state);
}
