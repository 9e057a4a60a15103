// SPDX-License-Identifier: MIT
/*
 * Options: one table, each read once at start-up from HPALLOC_<NAME> with
 * secure_getenv (ignored in set-uid programs).  docs/library.md documents
 * the same table.  An invalid or out-of-range value is reported on stderr
 * and the default is used: an allocator must not refuse to start a
 * program.  A HPALLOC_* variable that is not in the table (a misspelling)
 * is reported once, at start-up.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "internal.h"

const struct hpa_option_desc hpa_option_table[HPA_OPT_MAX] = {
	[HPA_OPT_BACKEND] = { "BACKEND", HPA_OPT_STR, "auto",
		"auto|device|hugetlb|thp|4k: where pages come from" },
	[HPA_OPT_DEBUG] = { "DEBUG", HPA_OPT_BOOL, "0",
		"1: print the backend chosen and why others were skipped" },
	[HPA_OPT_RESERVE] = { "RESERVE", HPA_OPT_SIZE, "1T",
		"virtual address space reserved at start-up",
		HPA_RESERVE_MIN, 1LL << 47 },
	[HPA_OPT_RETAIN] = { "RETAIN", HPA_OPT_SIZE, "64M",
		"free committed memory kept for reuse before unmapping "
		"(unset: 64M, and for big blocks as much as is in use)",
		0, 1LL << 47 },
	[HPA_OPT_PAGE_1G] = { "PAGE_1G", HPA_OPT_BOOL, "1",
		"use 1 GiB pages for blocks of 1 GiB and more when possible" },
	[HPA_OPT_STATS] = { "STATS", HPA_OPT_BOOL, "0",
		"1: print a summary of the allocator's use on stderr at exit" },
	[HPA_OPT_SMALL_START] = { "SMALL_START", HPA_OPT_SIZE, "8M",
		"each thread heap's first segments, up to this many bytes, "
		"use 4 KiB pages", 0, 1LL << 47 },
};

static long long opt_int[HPA_OPT_MAX];
static const char *opt_str[HPA_OPT_MAX];
static bool opt_given[HPA_OPT_MAX];	/* by the environment or mallopt */

long long hpa_parse_size(const char *s)
{
	char *end;
	unsigned long long v;
	int shift = 0, saved = errno, range;

	if (!s || !*s || *s == '-')
		return -1;
	/*
	 * strtoull reports overflow only through errno: borrow it, and give
	 * the caller's value back (options are read inside the first malloc).
	 */
	errno = 0;
	v = strtoull(s, &end, 10);
	range = errno;
	errno = saved;
	if (range || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'b' || *end == 'B')
		end += (*end == 'i' && (end[1] == 'B' || end[1] == 'b')) ? 2 : 1;
	if (*end || (shift && v > (~0ULL >> 1) >> shift))
		return -1;
	v <<= shift;
	if (v > (unsigned long long)(~0ULL >> 1))
		return -1;
	return (long long)v;
}

static long long parse_value(const struct hpa_option_desc *d, const char *v)
{
	if (d->type == HPA_OPT_BOOL) {
		if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on") ||
		    !strcmp(v, "true"))
			return 1;
		if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off") ||
		    !strcmp(v, "false"))
			return 0;
		return -1;
	}
	if (d->type == HPA_OPT_SIZE)
		return hpa_parse_size(v);
	return 0;
}

/* v in the largest unit that holds it exactly: "64M", "128T", "0". */
static const char *size_str(char *buf, size_t len, long long v)
{
	static const char units[] = "kMGT";
	int u = -1;

	while (u < 3 && v && !(v & 1023)) {
		v >>= 10;
		u++;
	}
	snprintf(buf, len, "%lld%.*s", v, u >= 0, u >= 0 ? units + u : "");
	return buf;
}

static bool backend_name_valid(const char *v)
{
	return !strcmp(v, "auto") || hpa_backend_by_name(v) >= 0;
}

/*
 * HPALLOC_* variables the table does not know: most likely misspelt
 * (HPALLOC_BACKNED=4k), which would otherwise be ignored silently.
 * Skipped in set-uid programs, like the options themselves.
 */
static void warn_unknown(void)
{
	extern char **environ;
	char known_list[128] = "";
	char **e;
	int i;

	if (getauxval(AT_SECURE) || !environ)
		return;
	for (i = 0; i < HPA_OPT_MAX; i++)
		snprintf(known_list + strlen(known_list),
			 sizeof(known_list) - strlen(known_list), "%s%s",
			 i ? ", " : "", hpa_option_table[i].name);
	for (e = environ; *e; e++) {
		const char *name = *e + 8;
		size_t len = strcspn(name, "=");
		bool known = false;

		if (strncmp(*e, "HPALLOC_", 8))
			continue;
		for (i = 0; i < HPA_OPT_MAX && !known; i++)
			known = strlen(hpa_option_table[i].name) == len &&
				!strncmp(hpa_option_table[i].name, name, len);
		if (!known)
			hpa_log("HPALLOC_%.*s is not an option of this library; "
				"ignored (known: %s)\n", (int)len, name,
				known_list);
	}
}

void hpa_options_init(void)
{
	char name[64];
	int i;

	for (i = 0; i < HPA_OPT_MAX; i++) {
		const struct hpa_option_desc *d = &hpa_option_table[i];
		const char *v;
		long long n;

		snprintf(name, sizeof(name), "HPALLOC_%s", d->name);
		v = secure_getenv(name);
		opt_str[i] = d->def;
		opt_int[i] = parse_value(d, d->def);
		if (!v)
			continue;
		if (d->type == HPA_OPT_STR) {
			if (i == HPA_OPT_BACKEND && !backend_name_valid(v)) {
				hpa_log("%s=%s is not one of auto, device, "
					"hugetlb, thp, 4k; using %s\n", name, v,
					d->def);
				continue;
			}
			opt_str[i] = v;
			continue;
		}
		n = parse_value(d, v);
		if (n < 0) {
			hpa_log("%s=%s is not a valid %s; using %s\n", name, v,
				d->type == HPA_OPT_BOOL ? "boolean" : "size",
				d->def);
			continue;
		}
		if (d->type == HPA_OPT_SIZE && (n < d->min || n > d->max)) {
			char lo[24], hi[24];

			hpa_log("%s=%s is out of range (%s to %s); using %s\n",
				name, v, size_str(lo, sizeof(lo), d->min),
				size_str(hi, sizeof(hi), d->max), d->def);
			continue;
		}
		opt_int[i] = n;
		opt_str[i] = v;
		opt_given[i] = true;
	}
	warn_unknown();
}

long long hpa_option_int(enum hpa_option o)
{
	return __atomic_load_n(&opt_int[o], __ATOMIC_RELAXED);
}

void hpa_option_set_int(enum hpa_option o, long long v)
{
	__atomic_store_n(&opt_int[o], v, __ATOMIC_RELAXED);
	__atomic_store_n(&opt_given[o], true, __ATOMIC_RELAXED);
}

bool hpa_option_given(enum hpa_option o)
{
	return __atomic_load_n(&opt_given[o], __ATOMIC_RELAXED);
}

const char *hpa_option_str(enum hpa_option o)
{
	return opt_str[o];
}

/* stdio may allocate; a log line is formatted on the stack and written. */
static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s", prefix);

	if (n < 0)
		return;
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	n = (int)strlen(buf);
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

void hpa_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("hpalloc: ", fmt, ap);
	va_end(ap);
}

void hpa_debug(const char *fmt, ...)
{
	va_list ap;

	if (!opt_int[HPA_OPT_DEBUG])
		return;
	va_start(ap, fmt);
	vlog("hpalloc: debug: ", fmt, ap);
	va_end(ap);
}

void hpa_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("hpalloc: fatal: ", fmt, ap);
	va_end(ap);
	abort();
}

void hpa_bad_pointer(const char *fn, const void *p, const char *why)
{
	hpa_fatal("%s(%p): %s\n", fn, p, why);
}
