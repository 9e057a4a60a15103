// SPDX-License-Identifier: GPL-2.0
/*
 * C++ under LD_PRELOAD=libhpalloc-preload.so: every form of operator new
 * and delete resolves to the preload library (not libstdc++'s wrappers
 * around malloc), honours its alignment, and reports running out of memory
 * the C++ way (new_handler, std::bad_alloc, nullptr for nothrow).  KTAP
 * output with a Totals line, like the harness's.
 */
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <malloc.h>
#include <new>

static int n_tests, n_fail;

static void report(bool ok, const char *name)
{
	n_tests++;
	if (!ok)
		n_fail++;
	std::printf("%sok %d cxx.%s\n", ok ? "" : "not ", n_tests, name);
}

static const char *const operators[] = {
	"_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
	"_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
	"_ZnwmSt11align_val_tRKSt9nothrow_t",
	"_ZnamSt11align_val_tRKSt9nothrow_t",
	"_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm", "_ZdlPvRKSt9nothrow_t",
	"_ZdaPvRKSt9nothrow_t", "_ZdlPvSt11align_val_t",
	"_ZdaPvSt11align_val_t", "_ZdlPvmSt11align_val_t",
	"_ZdaPvmSt11align_val_t", "_ZdlPvSt11align_val_tRKSt9nothrow_t",
	"_ZdaPvSt11align_val_tRKSt9nothrow_t", "free_sized",
};

static bool resolves_to_preload(const char *sym)
{
	void *f = dlsym(RTLD_DEFAULT, sym);
	Dl_info info;

	if (!f || !dladdr(f, &info) || !info.dli_fname)
		return false;
	if (!std::strstr(info.dli_fname, "libhpalloc-preload")) {
		std::printf("# %s comes from %s\n", sym, info.dli_fname);
		return false;
	}
	return true;
}

/* Too big for any allocator; volatile so the compiler cannot see it. */
static volatile size_t too_big = SIZE_MAX / 2;

static int handler_calls;

static void give_up(void)
{
	handler_calls++;
	std::set_new_handler(nullptr);
}

struct alignas(256) wide {
	char b[512];
};

int main()
{
	bool ok = true;
	size_t i;

	std::printf("TAP version 13\n1..6\n");
	for (const char *sym : operators)
		ok = resolves_to_preload(sym) && ok;
	report(ok, "operators_come_from_hpalloc");

	ok = true;
	for (i = 1; i < (4u << 20); i = i * 3 + 1) {
		char *p = new char[i];
		char *q = static_cast<char *>(::operator new(i));

		std::memset(p, 1, i);
		std::memset(q, 2, i);
		ok = ok && malloc_usable_size(p) >= i && p[i - 1] == 1 &&
		     q[0] == 2;
		delete[] p;
		::operator delete(q, i);	// sized
	}
	report(ok, "new_and_sized_delete");

	ok = true;
	for (i = 16; i <= (4u << 20); i *= 4) {
		void *p = ::operator new(100, std::align_val_t(i));
		void *q = ::operator new[](i + 1, std::align_val_t(i),
					   std::nothrow);

		ok = ok && p && q && !(reinterpret_cast<uintptr_t>(p) % i) &&
		     !(reinterpret_cast<uintptr_t>(q) % i);
		::operator delete(p, 100, std::align_val_t(i));
		::operator delete[](q, std::align_val_t(i), std::nothrow);
	}
	{
		wide *w = new wide[3];

		ok = ok && !(reinterpret_cast<uintptr_t>(w) % 256);
		delete[] w;
	}
	report(ok, "aligned_new_and_delete");

	{
		void *p = ::operator new(too_big, std::nothrow);
		void *q = ::operator new[](too_big, std::align_val_t(64),
					   std::nothrow);

		report(!p && !q, "nothrow_new_returns_null");
	}

	ok = false;
	try {
		char *p = new char[too_big];

		delete[] p;
	} catch (const std::bad_alloc &) {
		ok = true;
	}
	report(ok, "new_throws_bad_alloc");

	ok = false;
	std::set_new_handler(give_up);
	try {
		void *p = ::operator new(too_big, std::align_val_t(128));

		::operator delete(p, std::align_val_t(128));
	} catch (const std::bad_alloc &) {
		ok = handler_calls == 1;
	}
	report(ok, "new_handler_runs_before_bad_alloc");

	std::printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n",
		    n_tests - n_fail, n_fail);
	return n_fail ? 1 : 0;
}
