// SPDX-License-Identifier: GPL-2.0
/*
 * hpallocctl on the host, against a fake /sys, /proc and /dev built in a
 * temporary directory (--sysroot): the state it reads and the JSON shape,
 * counters it does not know, pool resizing through sysfs, holders named at
 * unload, and its errors and exit codes.  The real module is exercised in
 * the guest (selftests/ctl/hpallocctl_test.c).
 */
#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "hpa_ctl_run.h"

static char ctl[PATH_MAX + 32];

/* hpallocctl beside this test (the sanitizer builds have their own), else
 * the plain build's one level up. */
__attribute__((constructor)) static void find_ctl(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return;
	self[n] = '\0';
	snprintf(ctl, sizeof(ctl), "%s/hpallocctl", dirname(self));
	if (access(ctl, X_OK))
		snprintf(ctl, sizeof(ctl), "%s/../hpallocctl", self);
}

static void put(const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX], *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static char *slurp(const char *root, const char *rel)
{
	static char buf[256];
	char path[PATH_MAX];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int rm_one(const char *p, const struct stat *s __attribute__((unused)),
		  int t __attribute__((unused)),
		  struct FTW *f __attribute__((unused)))
{
	return remove(p);
}

#define POOL "sys/kernel/hpalloc/"

/* A machine with a CPU node and a memory-only node, the module loaded. */
static void make_tree(const char *r)
{
	char link[PATH_MAX];

	put(r, "proc/sys/kernel/osrelease", "6.12.0-test-amd64\n");
	put(r, "sys/kernel/mm/transparent_hugepage/enabled",
	    "always [madvise] never\n");
	put(r, "sys/kernel/mm/transparent_hugepage/defrag",
	    "always defer defer+madvise [madvise] never\n");
	put(r, "sys/devices/system/node/node0/cpulist", "0-1\n");
	put(r, "sys/devices/system/node/node0/meminfo",
	    "Node 0 MemTotal:        1048576 kB\nNode 0 MemFree:          524288 kB\n");
	put(r, "sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages", "100\n");
	put(r, "sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages", "40\n");
	put(r, "sys/devices/system/node/node0/hugepages/hugepages-2048kB/surplus_hugepages", "0\n");
	put(r, "sys/devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages", "0\n");
	put(r, "sys/devices/system/node/node0/hugepages/hugepages-1048576kB/free_hugepages", "0\n");
	put(r, "sys/devices/system/node/node0/hugepages/hugepages-1048576kB/surplus_hugepages", "0\n");
	put(r, "sys/devices/system/node/node10/cpulist", "\n");
	put(r, "sys/devices/system/node/node10/meminfo",
	    "Node 10 MemTotal:       4194304 kB\nNode 10 MemFree:        4000000 kB\n");
	put(r, "sys/module/hpalloc/version", "0.3\n");
	put(r, "sys/module/hpalloc/refcnt", "0\n");
	put(r, "sys/module/hpalloc/parameters/pages_2m", "0:8\n");
	put(r, "sys/module/hpalloc/parameters/pages_1g", "10:2\n");
	put(r, "sys/module/hpalloc/parameters/overcommit", "Y\n");
	put(r, "sys/class/misc/hpalloc/dev", "10:123\n");
	put(r, "dev/hpalloc", "");
	put(r, POOL "node0/2M/total", "8\n");
	put(r, POOL "node0/2M/free", "6\n");
	put(r, POOL "node0/2M/in_use", "2\n");
	put(r, POOL "node0/2M/zeroing", "0\n");
	put(r, POOL "node0/2M/target", "8\n");
	put(r, POOL "node0/2M/min", "8\n");
	put(r, POOL "node0/2M/failures", "0\n");
	put(r, POOL "node0/2M/a_counter_from_later", "5\n");
	put(r, POOL "node0/1G/total", "0\n");
	put(r, POOL "node0/1G/target", "0\n");
	put(r, POOL "node10/2M/total", "0\n");
	put(r, POOL "node10/2M/target", "0\n");
	put(r, POOL "node10/1G/total", "1\n");
	put(r, POOL "node10/1G/free", "1\n");
	put(r, POOL "node10/1G/target", "1\n");
	put(r, POOL "node10/1G/min", "0\n");
	/* A process with the device open and mapped. */
	put(r, "proc/4242/comm", "holder\n");
	put(r, "proc/4242/maps",
	    "7f0000000000-7f0000400000 rw-s 00000000 00:05 99 /dev/hpalloc\n"
	    "7f0000400000-7f0000600000 rw-p 00000000 00:00 0 \n");
	put(r, "proc/4242/fd/.keep", "");
	snprintf(link, sizeof(link), "%s/proc/4242/fd/3", r);
	if (symlink("/dev/hpalloc", link))
		abort();
	put(r, "proc/4243/comm", "bystander\n");
	put(r, "proc/4243/maps",
	    "7f0000400000-7f0000600000 rw-p 00000000 00:00 0 \n");
}

static void unload_module(const char *r)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/sys/module", r);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(path, sizeof(path), "%s/sys/kernel/hpalloc", r);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(path, sizeof(path), "%s/sys/class/misc/hpalloc", r);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(path, sizeof(path), "%s/dev/hpalloc", r);
	unlink(path);
}

FIXTURE(ctl) {
	char root[64];
	struct ctl_out r;
};

FIXTURE_SETUP(ctl)
{
	snprintf(self->root, sizeof(self->root), "/tmp/hpa-ctl-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->root));
	ASSERT_EQ(0, access(ctl, X_OK)) TH_LOG("no hpallocctl at %s", ctl);
	make_tree(self->root);
}

FIXTURE_TEARDOWN(ctl)
{
	nftw(self->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct json_object *status_json(struct __test_metadata *_metadata,
				       FIXTURE_DATA(ctl) *self)
{
	struct json_object *st;

	ctl_run(&self->r, ctl, "--sysroot", self->root, "status", "--json",
		NULL);
	EXPECT_EQ(0, self->r.rc) TH_LOG("stderr: %s", self->r.err);
	st = json_tokener_parse(self->r.out);
	EXPECT_NE(NULL, st) TH_LOG("not JSON: %s", self->r.out);
	return st;
}

TEST_F(ctl, status_json_shape)
{
	struct json_object *st = status_json(_metadata, self), *nodes, *p;

	ASSERT_NE(NULL, st);
	EXPECT_STREQ("6.12.0-test-amd64",
		     json_object_get_string(ctl_json_get(st, "kernel")));
	EXPECT_STREQ("madvise",
		     json_object_get_string(ctl_json_get(st, "thp.enabled")));
	nodes = ctl_json_get(st, "nodes");
	ASSERT_NE(NULL, nodes);
	ASSERT_EQ(2, json_object_array_length(nodes));
	/* node10 sorts after node0 (numerically, not as text) */
	p = json_object_array_get_idx(nodes, 1);
	EXPECT_EQ(10, json_object_get_int(ctl_json_get(p, "node")));
	EXPECT_FALSE(json_object_get_boolean(ctl_json_get(p, "has_cpus")));
	EXPECT_EQ(4194304, json_object_get_int64(ctl_json_get(p, "mem_total_kb")));
	p = json_object_array_get_idx(nodes, 0);
	EXPECT_TRUE(json_object_get_boolean(ctl_json_get(p, "has_cpus")));
	EXPECT_STREQ("0-1", json_object_get_string(ctl_json_get(p, "cpus")));
	EXPECT_EQ(100, json_object_get_int(ctl_json_get(p, "hugetlb.2M.total")));
	EXPECT_EQ(40, json_object_get_int(ctl_json_get(p, "hugetlb.2M.free")));
	EXPECT_TRUE(json_object_get_boolean(ctl_json_get(st, "module.loaded")));
	EXPECT_STREQ("0.3",
		     json_object_get_string(ctl_json_get(st, "module.version")));
	EXPECT_STREQ("0:8", json_object_get_string(
			ctl_json_get(st, "module.parameters.pages_2m")));
	EXPECT_TRUE(json_object_get_boolean(ctl_json_get(st, "device.present")));
	EXPECT_EQ(4, json_object_array_length(ctl_json_get(st, "module.pools")));
	p = ctl_json_pool(st, 0, "2M");
	ASSERT_NE(NULL, p);
	EXPECT_EQ(8, json_object_get_int(ctl_json_get(p, "total")));
	EXPECT_EQ(2, json_object_get_int(ctl_json_get(p, "in_use")));
	/* A counter this hpallocctl does not know is shown too. */
	EXPECT_EQ(5, json_object_get_int(ctl_json_get(p, "a_counter_from_later")));
	p = ctl_json_pool(st, 10, "1G");
	ASSERT_NE(NULL, p);
	EXPECT_EQ(1, json_object_get_int(ctl_json_get(p, "total")));
	EXPECT_EQ(0, strncmp("ready",
			     json_object_get_string(ctl_json_get(st, "hint")), 5));
	json_object_put(st);
}

/* The --json output is JSON to another parser too. */
TEST_F(ctl, status_json_python)
{
	char cmd[PATH_MAX * 2];

	if (system("python3 -c '' 2>/dev/null") != 0)
		SKIP(return, "no python3 here");
	snprintf(cmd, sizeof(cmd),
		 "'%s' --sysroot '%s' status --json | python3 -m json.tool >/dev/null",
		 ctl, self->root);
	EXPECT_EQ(0, system(cmd));
}

TEST_F(ctl, status_text)
{
	ctl_run(&self->r, ctl, "--sysroot", self->root, NULL);
	ASSERT_EQ(0, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.out, "THP:      enabled [madvise]"));
	EXPECT_NE(NULL, strstr(self->r.out, "(none)")) TH_LOG("%s", self->r.out);
	EXPECT_NE(NULL, strstr(self->r.out, "hpalloc 0.3 loaded"));
	EXPECT_NE(NULL, strstr(self->r.out, "pages_1g=10:2"));
	EXPECT_NE(NULL, strstr(self->r.out, "   0   2M         8         6         2"))
		TH_LOG("%s", self->r.out);
	EXPECT_NE(NULL, strstr(self->r.out, "hint:     ready"));
	ctl_run(&self->r, ctl, "--sysroot", self->root, "status", "-v", NULL);
	EXPECT_NE(NULL, strstr(self->r.out, "a_counter_from_later 5"));
}

TEST_F(ctl, status_not_loaded)
{
	struct json_object *st;
	char want[PATH_MAX];

	unload_module(self->root);
	st = status_json(_metadata, self);
	ASSERT_NE(NULL, st);
	EXPECT_FALSE(json_object_get_boolean(ctl_json_get(st, "module.loaded")));
	snprintf(want, sizeof(want), "%s/lib/modules/6.12.0-test-amd64",
		 self->root);
	EXPECT_STREQ(want, json_object_get_string(
			ctl_json_get(st, "module.looked_in")));
	EXPECT_FALSE(json_object_get_boolean(ctl_json_get(st, "device.present")));
	EXPECT_STREQ("the module is not loaded",
		     json_object_get_string(ctl_json_get(st, "device.reason")));
	EXPECT_NE(NULL, strstr(json_object_get_string(ctl_json_get(st, "hint")),
			       "not installed for this kernel"));
	json_object_put(st);
}

TEST_F(ctl, pool_set_writes_target)
{
	ctl_run(&self->r, ctl, "--sysroot", self->root, "pool", "0", "2m",
		"set", "12", NULL);
	EXPECT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	EXPECT_STREQ("12\n", slurp(self->root, POOL "node0/2M/target"));
	EXPECT_NE(NULL, strstr(self->r.out, "node 0 2M: target 12 of 12 asked"));
	ctl_run(&self->r, ctl, "--sysroot", self->root, "pool", "10", "1GiB",
		"min", "1", NULL);
	EXPECT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	EXPECT_STREQ("1\n", slurp(self->root, POOL "node10/1G/min"));
}

TEST_F(ctl, pool_errors)
{
	ctl_run(&self->r, ctl, "--sysroot", self->root, "pool", "1", "2M",
		"set", "1", NULL);
	EXPECT_EQ(1, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "node 1 has no 2M pool"));
	ctl_run(&self->r, ctl, "--sysroot", self->root, "pool", "0", "4M",
		"set", "1", NULL);
	EXPECT_EQ(2, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "size '4M' is not 2M or 1G"));
	ctl_run(&self->r, ctl, "--sysroot", self->root, "pool", "0", "2M",
		"set", "-1", NULL);
	EXPECT_EQ(2, self->r.rc);
	ctl_run(&self->r, ctl, "--sysroot", self->root, "pool", "0", "2M",
		"grow", "1", NULL);
	EXPECT_EQ(2, self->r.rc);
	ctl_run(&self->r, ctl, "--sysroot", self->root, "pool", "x", "2M",
		"set", "1", NULL);
	EXPECT_EQ(2, self->r.rc);
	ctl_run(&self->r, ctl, "--sysroot", self->root, "pool", "0", NULL);
	EXPECT_EQ(2, self->r.rc);
	EXPECT_STREQ("8\n", slurp(self->root, POOL "node0/2M/target"));
	unload_module(self->root);
	ctl_run(&self->r, ctl, "--sysroot", self->root, "pool", "0", "2M",
		"set", "1", NULL);
	EXPECT_EQ(1, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "hpalloc is not loaded"));
}

/* Still referenced: exit 4, and the holder named with its counts. */
TEST_F(ctl, unload_names_holders)
{
	put(self->root, "sys/module/hpalloc/refcnt", "2\n");
	ctl_run(&self->r, ctl, "--sysroot", self->root, "unload", NULL);
	EXPECT_EQ(4, self->r.rc) TH_LOG("%s", self->r.err);
	EXPECT_NE(NULL, strstr(self->r.err, "in use (2 references)"));
	EXPECT_NE(NULL, strstr(self->r.err,
			       "pid 4242 (holder): 1 open file, 1 mapping (4 MiB)"))
		TH_LOG("%s", self->r.err);
	EXPECT_EQ(NULL, strstr(self->r.err, "bystander"));
	ctl_run(&self->r, ctl, "--sysroot", self->root, "unload", "--wait=0.3",
		NULL);
	EXPECT_EQ(4, self->r.rc);
	ctl_run(&self->r, ctl, "--sysroot", self->root, "unload", "--wait=x",
		NULL);
	EXPECT_EQ(2, self->r.rc);
	unload_module(self->root);
	ctl_run(&self->r, ctl, "--sysroot", self->root, "unload", NULL);
	EXPECT_EQ(1, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "hpalloc is not loaded"));
}

TEST_F(ctl, load_errors)
{
	char want[PATH_MAX];

	ctl_run(&self->r, ctl, "--sysroot", self->root, "load", NULL);
	EXPECT_EQ(1, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "already loaded"));
	ctl_run(&self->r, ctl, "--sysroot", self->root, "load",
		"--if-not-loaded", NULL);
	EXPECT_EQ(0, self->r.rc);
	ctl_run(&self->r, ctl, "--sysroot", self->root, "load", "overcommit",
		NULL);
	EXPECT_EQ(2, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "'overcommit' is not PARAM=VALUE"));
	ctl_run(&self->r, ctl, "--sysroot", self->root, "load", "--pages-2m",
		NULL);
	EXPECT_EQ(2, self->r.rc);
	unload_module(self->root);
	ctl_run(&self->r, ctl, "--sysroot", self->root, "load", "--pages-2m",
		"0:8", NULL);
	EXPECT_EQ(1, self->r.rc);
	snprintf(want, sizeof(want),
		 "not found for Linux 6.12.0-test-amd64 (looked in %s/lib/modules/6.12.0-test-amd64/modules.dep)",
		 self->root);
	EXPECT_NE(NULL, strstr(self->r.err, want)) TH_LOG("%s", self->r.err);
}

TEST_F(ctl, usage)
{
	ctl_run(&self->r, ctl, "frobnicate", NULL);
	EXPECT_EQ(2, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "unknown command 'frobnicate'"));
	ctl_run(&self->r, ctl, "--bogus", NULL);
	EXPECT_EQ(2, self->r.rc);
	ctl_run(&self->r, ctl, "--help", NULL);
	EXPECT_EQ(0, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.out, "pool NODE SIZE set COUNT"));
	ctl_run(&self->r, ctl, "load", "--help", NULL);
	EXPECT_EQ(0, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.out, "--pages-1g"));
	ctl_run(&self->r, ctl, "status", "--frob", NULL);
	EXPECT_EQ(2, self->r.rc);
	ctl_run(&self->r, ctl, "status", "extra", NULL);
	EXPECT_EQ(2, self->r.rc);
}

/* The library view on the real backends (whatever this host has). */
TEST_F(ctl, lib_view)
{
	ctl_run(&self->r, ctl, "lib", NULL);
	EXPECT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	EXPECT_EQ(0, strncmp(self->r.out, "backend:  ", 10));
	ctl_run(&self->r, ctl, "classes", NULL);
	EXPECT_EQ(0, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.out, "max waste"));
}

TEST_HARNESS_MAIN
