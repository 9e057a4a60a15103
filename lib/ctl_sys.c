// SPDX-License-Identifier: MIT
/*
 * hpallocctl: the system's state as the kernel shows it in /sys and /proc.
 * Transparent huge pages, hugetlb pools per node and page size, /dev/hpalloc
 * (present, usable, or why not), the module's version, parameters and
 * pools.  Pool counters are read as whatever files the module has, so a
 * counter added later appears without a change here.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ctl.h"

const char *ctl_root = "";

const char *ctl_path(const char *fmt, ...)
{
	static char bufs[8][PATH_MAX];
	static unsigned int next;
	char *b = bufs[next++ % 8];
	size_t n = strlen(ctl_root);
	va_list ap;

	memcpy(b, ctl_root, n);
	va_start(ap, fmt);
	vsnprintf(b + n, PATH_MAX - n, fmt, ap);
	va_end(ap);
	return b;
}

char *ctl_read_line(const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return NULL;
	n = getline(&line, &cap, f);
	fclose(f);
	if (n < 0) {
		free(line);
		errno = ENODATA;
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = '\0';
	return line;
}

long long ctl_read_ull(const char *path)
{
	char *s = ctl_read_line(path), *end;
	unsigned long long v;

	if (!s)
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > LLONG_MAX) {
		free(s);
		return -1;
	}
	free(s);
	return (long long)v;
}

bool ctl_module_loaded(void)
{
	struct stat st;

	return stat(ctl_path("/sys/module/hpalloc"), &st) == 0;
}

const char *ctl_size_name(const char *arg)
{
	if (!strcasecmp(arg, "2M") || !strcasecmp(arg, "2MiB") ||
	    !strcmp(arg, "2048kB"))
		return "2M";
	if (!strcasecmp(arg, "1G") || !strcasecmp(arg, "1GiB") ||
	    !strcmp(arg, "1048576kB"))
		return "1G";
	return NULL;
}

/* Numbered directory entries "<prefix><N>" of dir, sorted by N. */
static int numbered_entries(const char *dir, const char *prefix, int **out)
{
	size_t plen = strlen(prefix);
	int *v = NULL, n = 0, cap = 0, i, j;
	struct dirent *de;
	DIR *d = opendir(dir);

	*out = NULL;
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long x;

		if (strncmp(de->d_name, prefix, plen) ||
		    !isdigit((unsigned char)de->d_name[plen]))
			continue;
		x = strtol(de->d_name + plen, &end, 10);
		if (*end || x < 0 || x > INT_MAX)
			continue;
		if (n == cap) {
			int *nv = realloc(v, sizeof(*v) * (cap = cap ? 2 * cap : 8));

			if (!nv)
				break;
			v = nv;
		}
		v[n++] = (int)x;
	}
	closedir(d);
	for (i = 1; i < n; i++)	/* a handful of nodes: insertion sort */
		for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
			int t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out = v;
	return n;
}

/* "always [madvise] never" -> "madvise" */
static struct json_object *bracketed(const char *path)
{
	char *s = ctl_read_line(path), *a, *b;
	struct json_object *o = NULL;

	if (!s)
		return NULL;
	a = strchr(s, '[');
	b = a ? strchr(a, ']') : NULL;
	if (a && b)
		o = json_object_new_string_len(a + 1, (int)(b - a - 1));
	free(s);
	return o;
}

static void add_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

static void add_int(struct json_object *o, const char *key, long long v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static long long node_meminfo_kb(int node, const char *field)
{
	FILE *f = fopen(ctl_path("/sys/devices/system/node/node%d/meminfo",
				 node), "re");
	char line[256], name[64];
	long long v = -1, x;
	int n;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Node %d %63[^:]: %lld", &n, name, &x) == 3 &&
		    !strcmp(name, field)) {
			v = x;
			break;
		}
	fclose(f);
	return v;
}

static struct json_object *hugetlb_state(int node)
{
	static const struct { const char *dir, *name; } sizes[] = {
		{ "hugepages-2048kB", "2M" },
		{ "hugepages-1048576kB", "1G" },
	};
	struct json_object *o = json_object_new_object();
	unsigned int i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const char *base = ctl_path("/sys/devices/system/node/node%d/hugepages/%s",
					    node, sizes[i].dir);
		char b[PATH_MAX];
		struct json_object *p;
		long long total;

		snprintf(b, sizeof(b), "%s/nr_hugepages", base);
		total = ctl_read_ull(b);
		if (total < 0)
			continue;
		p = json_object_new_object();
		add_int(p, "total", total);
		snprintf(b, sizeof(b), "%s/free_hugepages", base);
		add_int(p, "free", ctl_read_ull(b));
		snprintf(b, sizeof(b), "%s/surplus_hugepages", base);
		add_int(p, "surplus", ctl_read_ull(b));
		json_object_object_add(o, sizes[i].name, p);
	}
	return o;
}

static struct json_object *nodes_state(void)
{
	struct json_object *arr = json_object_new_array();
	int *nodes, n, i;

	n = numbered_entries(ctl_path("/sys/devices/system/node"), "node",
			     &nodes);
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();
		char *cpus = ctl_read_line(ctl_path("/sys/devices/system/node/node%d/cpulist",
						    nodes[i]));

		add_int(o, "node", nodes[i]);
		add_str(o, "cpus", cpus ? cpus : "");
		json_object_object_add(o, "has_cpus",
				       json_object_new_boolean(cpus && *cpus));
		add_int(o, "mem_total_kb", node_meminfo_kb(nodes[i], "MemTotal"));
		add_int(o, "mem_free_kb", node_meminfo_kb(nodes[i], "MemFree"));
		json_object_object_add(o, "hugetlb", hugetlb_state(nodes[i]));
		json_object_array_add(arr, o);
		free(cpus);
	}
	free(nodes);
	return arr;
}

/* /dev/hpalloc: present and usable, or the reason it is not. */
static struct json_object *device_state(bool loaded)
{
	struct json_object *o = json_object_new_object();
	const char *dev = ctl_path("/dev/hpalloc");
	char *sysdev = ctl_read_line(ctl_path("/sys/class/misc/hpalloc/dev"));
	struct stat st;

	add_str(o, "path", "/dev/hpalloc");
	if (stat(dev, &st) != 0) {
		json_object_object_add(o, "present", json_object_new_boolean(0));
		json_object_object_add(o, "usable", json_object_new_boolean(0));
		if (!loaded)
			add_str(o, "reason", "the module is not loaded");
		else if (sysdev)
			add_str(o, "reason", "the module is loaded but no device node exists (devtmpfs not mounted, or udev removed it)");
		else
			add_str(o, "reason", "the module is loaded but registered no device");
	} else {
		struct group *g = getgrgid(st.st_gid);
		char mode[8];
		bool ok = access(dev, R_OK | W_OK) == 0;

		snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
		json_object_object_add(o, "present", json_object_new_boolean(1));
		json_object_object_add(o, "usable", json_object_new_boolean(ok));
		add_str(o, "mode", mode);
		if (g)
			add_str(o, "group", g->gr_name);
		else
			add_int(o, "gid", st.st_gid);
		if (!ok)
			add_str(o, "reason", "permission denied for this user");
	}
	if (sysdev)
		add_str(o, "devnum", sysdev);
	free(sysdev);
	return o;
}

/* Known counters first, in this order; any other file after them. */
static const char *const pool_order[] = {
	"total", "free", "in_use", "zeroing", "target", "min", "failures",
	"split", "merged", NULL
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct json_object *ctl_pool_state(int node, const char *size)
{
	const char *dir = ctl_path("/sys/kernel/hpalloc/node%d/%s", node, size);
	struct json_object *o;
	char *names[128], path[PATH_MAX];
	int n = 0, i, k;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return NULL;
	while (n < 128 && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	o = json_object_new_object();
	add_int(o, "node", node);
	add_str(o, "size", size);
	for (k = 0; pool_order[k]; k++)
		for (i = 0; i < n; i++)
			if (names[i] && !strcmp(names[i], pool_order[k])) {
				snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
				add_int(o, names[i], ctl_read_ull(path));
				free(names[i]);
				names[i] = NULL;
			}
	for (i = 0; i < n; i++) {
		long long v;

		if (!names[i])
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		v = ctl_read_ull(path);
		if (v >= 0)	/* not a counter (a subdirectory, say) */
			add_int(o, names[i], v);
		free(names[i]);
	}
	return o;
}

static struct json_object *parameters_state(void)
{
	const char *dir = ctl_path("/sys/module/hpalloc/parameters");
	struct json_object *o = json_object_new_object();
	char *names[64], path[PATH_MAX];
	int n = 0, i;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return o;
	while (n < 64 && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (i = 0; i < n; i++) {
		char *v;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		v = ctl_read_line(path);
		add_str(o, names[i], v ? v : "");
		free(v);
		free(names[i]);
	}
	return o;
}

struct json_object *ctl_module_state(void)
{
	struct json_object *o = json_object_new_object(), *pools;
	int *nodes, n, i;
	char *ver;

	if (!ctl_module_loaded()) {
		const char *looked = NULL;
		char *file = ctl_module_path(&looked);

		json_object_object_add(o, "loaded", json_object_new_boolean(0));
		add_str(o, "file", file);
		if (!file)
			add_str(o, "looked_in", looked);
		free(file);
		return o;
	}
	json_object_object_add(o, "loaded", json_object_new_boolean(1));
	ver = ctl_read_line(ctl_path("/sys/module/hpalloc/version"));
	add_str(o, "version", ver);
	free(ver);
	add_int(o, "refcnt", ctl_read_ull(ctl_path("/sys/module/hpalloc/refcnt")));
	json_object_object_add(o, "parameters", parameters_state());
	pools = json_object_new_array();
	n = numbered_entries(ctl_path("/sys/kernel/hpalloc"), "node", &nodes);
	for (i = 0; i < n; i++) {
		struct json_object *p;

		p = ctl_pool_state(nodes[i], "2M");
		if (p)
			json_object_array_add(pools, p);
		p = ctl_pool_state(nodes[i], "1G");
		if (p)
			json_object_array_add(pools, p);
	}
	free(nodes);
	json_object_object_add(o, "pools", pools);
	return o;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	return json_object_get_string(v);
}

static long long get_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return -1;
	return json_object_get_int64(v);
}

static bool get_bool(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && v &&
	       json_object_get_boolean(v);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

/* One line on what to do next, from the state gathered. */
static const char *hint(struct json_object *st)
{
	struct json_object *mod = get(st, "module"), *dev = get(st, "device");
	struct json_object *pools = get(mod, "pools");
	const char *thp = get_str(get(st, "thp"), "enabled");
	long long filled = 0;
	size_t i;

	if (!get_bool(mod, "loaded")) {
		if (!get_str(mod, "file"))
			return "hpalloc.ko is not installed for this kernel: install hpalloc-dkms (or run scripts/dkms-install.sh); until then libhpalloc-user uses hugetlb, THP or 4 KiB pages";
		return "load the module: hpallocctl load --pages-2m NODE:COUNT (or put the pools in /etc/modprobe.d/hpalloc.conf and enable hpalloc.service)";
	}
	if (!get_bool(dev, "present"))
		return "the module is loaded but /dev/hpalloc is missing: mount devtmpfs on /dev or check the udev rules";
	if (!get_bool(dev, "usable"))
		return "this user cannot open /dev/hpalloc: add it to the device's group (see 60-hpalloc.rules) or run as root";
	for (i = 0; pools && i < json_object_array_length(pools); i++)
		filled += get_int(json_object_array_get_idx(pools, i), "total");
	if (filled == 0) {
		if (thp && !strcmp(thp, "never"))
			return "the pools are empty and THP is off: pages come from the page allocator at first use; pre-fill a pool with hpallocctl pool NODE 2M set COUNT";
		return "the pools are empty: pages come from the page allocator at first use; pre-fill a pool with hpallocctl pool NODE 2M set COUNT";
	}
	return "ready: libhpalloc-user will use /dev/hpalloc";
}

struct json_object *ctl_state(void)
{
	struct json_object *st = json_object_new_object(), *thp, *mod;
	char *rel = ctl_read_line(ctl_path("/proc/sys/kernel/osrelease"));

	add_str(st, "kernel", rel);
	free(rel);
	thp = json_object_new_object();
	json_object_object_add(thp, "enabled",
			       bracketed(ctl_path("/sys/kernel/mm/transparent_hugepage/enabled")));
	json_object_object_add(thp, "defrag",
			       bracketed(ctl_path("/sys/kernel/mm/transparent_hugepage/defrag")));
	json_object_object_add(st, "thp", thp);
	json_object_object_add(st, "nodes", nodes_state());
	mod = ctl_module_state();
	json_object_object_add(st, "device",
			       device_state(get_bool(mod, "loaded")));
	json_object_object_add(st, "module", mod);
	add_str(st, "hint", hint(st));
	return st;
}

static void print_hugetlb(struct json_object *h, const char *size)
{
	struct json_object *p = get(h, size);

	if (!p) {
		printf(" %11s", "-");
		return;
	}
	printf(" %5lld/%-5lld", get_int(p, "free"), get_int(p, "total"));
}

static void print_pools(struct json_object *pools, bool verbose)
{
	static const char *const cols[] = {
		"total", "free", "in_use", "zeroing", "target", "min",
		"failures", "split", "merged", NULL
	};
	bool shown[sizeof(cols) / sizeof(cols[0])] = { 0 };
	size_t i, n = json_object_array_length(pools);
	int c;

	/* A column for each known counter that some pool has. */
	for (i = 0; i < n; i++)
		for (c = 0; cols[c]; c++)
			if (get(json_object_array_get_idx(pools, i), cols[c]))
				shown[c] = true;
	printf("%4s %4s", "node", "size");
	for (c = 0; cols[c]; c++)
		if (shown[c])
			printf(" %9s", cols[c]);
	printf("\n");
	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(pools, i);

		printf("%4lld %4s", get_int(p, "node"), get_str(p, "size"));
		for (c = 0; cols[c]; c++)
			if (shown[c])
				printf(" %9lld", get_int(p, cols[c]));
		printf("\n");
		if (verbose) {
			json_object_object_foreach(p, key, val) {
				if (strcmp(key, "node") && strcmp(key, "size"))
					printf("          %-20s %lld\n", key,
					       (long long)json_object_get_int64(val));
			}
		}
	}
}

void ctl_print_state(struct json_object *st, bool verbose)
{
	struct json_object *thp = get(st, "thp"), *nodes = get(st, "nodes");
	struct json_object *dev = get(st, "device"), *mod = get(st, "module");
	size_t i;

	printf("kernel:   Linux %s\n", get_str(st, "kernel") ?: "?");
	printf("THP:      enabled [%s], defrag [%s]\n",
	       get_str(thp, "enabled") ?: "unavailable",
	       get_str(thp, "defrag") ?: "unavailable");
	printf("%4s %-8s %10s %10s %11s %11s\n", "node", "cpus", "MemTotal",
	       "MemFree", "hugetlb 2M", "hugetlb 1G");
	for (i = 0; i < json_object_array_length(nodes); i++) {
		struct json_object *n = json_object_array_get_idx(nodes, i);

		printf("%4lld %-8s %6lld MiB %6lld MiB", get_int(n, "node"),
		       get_bool(n, "has_cpus") ? get_str(n, "cpus") : "(none)",
		       get_int(n, "mem_total_kb") / 1024,
		       get_int(n, "mem_free_kb") / 1024);
		print_hugetlb(get(n, "hugetlb"), "2M");
		print_hugetlb(get(n, "hugetlb"), "1G");
		printf("\n");
	}
	printf("          (hugetlb columns: free/total pages)\n");
	if (get_bool(dev, "present"))
		printf("device:   /dev/hpalloc mode %s%s%s, %s\n",
		       get_str(dev, "mode"), get_str(dev, "group") ? " group " : "",
		       get_str(dev, "group") ?: "",
		       get_bool(dev, "usable") ? "usable" : get_str(dev, "reason"));
	else
		printf("device:   /dev/hpalloc absent: %s\n", get_str(dev, "reason"));
	if (!get_bool(mod, "loaded")) {
		if (get_str(mod, "file"))
			printf("module:   not loaded (%s)\n", get_str(mod, "file"));
		else
			printf("module:   not loaded, and not found in %s\n",
			       get_str(mod, "looked_in") ?: "the module tree");
	} else {
		printf("module:   hpalloc %s loaded, %lld references\n",
		       get_str(mod, "version") ?: "?", get_int(mod, "refcnt"));
		printf("params:  ");
		json_object_object_foreach(get(mod, "parameters"), key, val) {
			printf(" %s=%s", key, json_object_get_string(val));
		}
		printf("\n");
		print_pools(get(mod, "pools"), verbose);
	}
	printf("hint:     %s\n", get_str(st, "hint"));
}
