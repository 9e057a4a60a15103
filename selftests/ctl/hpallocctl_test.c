// SPDX-License-Identifier: GPL-2.0
/*
 * hpallocctl against the real module, in the guest, with the module not
 * loaded at the start (scripts/guest-init.sh runs tests under unloaded/
 * after its own rmmod).  libkmod finds hpalloc.ko in the guest's module
 * tree (vm-run.sh puts it in /lib/modules/<release>/extra and runs depmod).
 * Checked from outside the tool: the module's sysfs, /proc/modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "kselftest_harness.h"
#include "hpa_ctl_run.h"

#define SZ_2M (2UL << 20)

static const char *ctl_bin(void)
{
	const char *e = getenv("HPALLOCCTL");

	return e ? e : "/sbin/hpallocctl";
}

static bool module_loaded(void)
{
	return access("/sys/module/hpalloc", F_OK) == 0;
}

static long long sysfs_ull(const char *fmt, int node, const char *size)
{
	char path[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), fmt, node, size);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

#define POOL_FILE(file) "/sys/kernel/hpalloc/node%d/%s/" file

FIXTURE(ctl) {
	struct ctl_out r;
};

FIXTURE_SETUP(ctl)
{
	if (access(ctl_bin(), X_OK))
		SKIP(return, "no %s in this guest", ctl_bin());
	if (module_loaded())
		ctl_run(&self->r, ctl_bin(), "unload", "--wait=30", NULL);
	ASSERT_FALSE(module_loaded()) TH_LOG("cannot unload: %s", self->r.err);
}

FIXTURE_TEARDOWN(ctl)
{
	if (module_loaded())
		ctl_run(&self->r, ctl_bin(), "unload", "--wait=30", NULL);
}

static struct json_object *status(struct __test_metadata *_metadata,
				  FIXTURE_DATA(ctl) *self)
{
	struct json_object *st;

	ctl_run(&self->r, ctl_bin(), "status", "--json", NULL);
	EXPECT_EQ(0, self->r.rc);
	st = json_tokener_parse(self->r.out);
	EXPECT_NE(NULL, st) TH_LOG("not JSON: %s", self->r.out);
	return st;
}

TEST_F(ctl, load_status_pool_unload)
{
	struct json_object *st, *p;
	char want[512];
	struct utsname u;

	ctl_run(&self->r, ctl_bin(), "load", "--pages-2m", "0:8",
		"--pages-1g", "2:1", NULL);
	ASSERT_EQ(0, self->r.rc) TH_LOG("out: %s err: %s", self->r.out,
					self->r.err);
	EXPECT_NE(NULL, strstr(self->r.out, "node 0 2M: 8 pages"))
		TH_LOG("%s", self->r.out);
	EXPECT_NE(NULL, strstr(self->r.out, "node 2 1G: 1 pages"));
	ASSERT_TRUE(module_loaded());
	EXPECT_EQ(8, sysfs_ull(POOL_FILE("total"), 0, "2M"));
	EXPECT_EQ(1, sysfs_ull(POOL_FILE("total"), 2, "1G"));

	st = status(_metadata, self);
	ASSERT_NE(NULL, st);
	p = ctl_json_pool(st, 0, "2M");
	ASSERT_NE(NULL, p);
	EXPECT_EQ(8, json_object_get_int(ctl_json_get(p, "total")));
	EXPECT_EQ(8, json_object_get_int(ctl_json_get(p, "min")));
	p = ctl_json_pool(st, 2, "1G");
	ASSERT_NE(NULL, p);
	EXPECT_EQ(1, json_object_get_int(ctl_json_get(p, "total")));
	EXPECT_STREQ("0:8", json_object_get_string(
			ctl_json_get(st, "module.parameters.pages_2m")));
	EXPECT_TRUE(json_object_get_boolean(ctl_json_get(st, "device.usable")));
	/* The guest's node 2 is memory-only. */
	p = json_object_array_get_idx(ctl_json_get(st, "nodes"), 2);
	EXPECT_FALSE(json_object_get_boolean(ctl_json_get(p, "has_cpus")));
	json_object_put(st);

	ctl_run(&self->r, ctl_bin(), "pool", "0", "2M", "set", "12", NULL);
	EXPECT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	EXPECT_EQ(12, sysfs_ull(POOL_FILE("total"), 0, "2M"));
	EXPECT_NE(NULL, strstr(self->r.out, "target 12 of 12 asked, total 12"));
	ctl_run(&self->r, ctl_bin(), "pool", "0", "2M", "min", "4", NULL);
	EXPECT_EQ(0, self->r.rc);
	EXPECT_EQ(4, sysfs_ull(POOL_FILE("min"), 0, "2M"));
	ctl_run(&self->r, ctl_bin(), "pool", "0", "2M", "set", "2", NULL);
	EXPECT_EQ(0, self->r.rc);
	EXPECT_EQ(2, sysfs_ull(POOL_FILE("total"), 0, "2M"));
	/* Node 2 (4 GiB) has two free aligned GiB, never four: short. */
	ctl_run(&self->r, ctl_bin(), "pool", "2", "1G", "set", "4", NULL);
	EXPECT_EQ(3, self->r.rc) TH_LOG("%s %s", self->r.out, self->r.err);
	EXPECT_NE(NULL, strstr(self->r.err, "node 2 1G: got"));
	EXPECT_GT(4, sysfs_ull(POOL_FILE("total"), 2, "1G"));
	ctl_run(&self->r, ctl_bin(), "pool", "1", "1G", "set", "100000", NULL);
	EXPECT_EQ(1, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "Invalid argument"));
	ctl_run(&self->r, ctl_bin(), "pool", "2", "1G", "set", "0", NULL);
	EXPECT_EQ(0, self->r.rc);

	ctl_run(&self->r, ctl_bin(), "unload", NULL);
	EXPECT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	EXPECT_FALSE(module_loaded());

	/* Unloaded: status says where the module is and how to load it. */
	st = status(_metadata, self);
	ASSERT_NE(NULL, st);
	uname(&u);
	snprintf(want, sizeof(want), "/lib/modules/%s/extra/hpalloc.ko",
		 u.release);
	EXPECT_STREQ(want, json_object_get_string(ctl_json_get(st, "module.file")));
	EXPECT_EQ(0, strncmp("load the module",
			     json_object_get_string(ctl_json_get(st, "hint")), 15));
	json_object_put(st);
}

/* More 1 GiB pages than node 2 can give at load: loaded, exit 3, and the
 * line says how many it got. */
TEST_F(ctl, load_1g_short)
{
	long long got;
	char want[64];

	ctl_run(&self->r, ctl_bin(), "load", "--pages-1g", "2:4", NULL);
	EXPECT_EQ(3, self->r.rc) TH_LOG("%s %s", self->r.out, self->r.err);
	ASSERT_TRUE(module_loaded());
	got = sysfs_ull(POOL_FILE("total"), 2, "1G");
	EXPECT_GT(4, got);
	snprintf(want, sizeof(want), "node 2 1G: got %lld of 4 pages", got);
	EXPECT_NE(NULL, strstr(self->r.out, want)) TH_LOG("%s", self->r.out);
}

TEST_F(ctl, load_malformed_option)
{
	ctl_run(&self->r, ctl_bin(), "load", "--pages-2m", "9:1", NULL);
	EXPECT_EQ(1, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "Invalid argument"));
	EXPECT_NE(NULL, strstr(self->r.err,
			       "kernel: hpalloc: pages_2m=9:1: node 9 has no memory"))
		TH_LOG("%s", self->r.err);
	EXPECT_FALSE(module_loaded());
	ctl_run(&self->r, ctl_bin(), "load", "--pages-1g", "0:x", NULL);
	EXPECT_EQ(1, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "is not NODE:COUNT in decimal"))
		TH_LOG("%s", self->r.err);
	EXPECT_FALSE(module_loaded());
}

/* Raw PARAM=VALUE arguments reach the module intact, commas and all. */
TEST_F(ctl, load_params_then_twice)
{
	char v[8] = "";
	FILE *f;

	ctl_run(&self->r, ctl_bin(), "load", "overcommit=N", "pages_2m=0:2,1:3",
		NULL);
	ASSERT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	EXPECT_NE(NULL, strstr(self->r.out, "node 1 2M: 3 pages"));
	EXPECT_EQ(2, sysfs_ull(POOL_FILE("total"), 0, "2M"));
	EXPECT_EQ(3, sysfs_ull(POOL_FILE("total"), 1, "2M"));
	f = fopen("/sys/module/hpalloc/parameters/overcommit", "r");
	ASSERT_NE(NULL, f);
	EXPECT_EQ(1, fscanf(f, "%7s", v));
	fclose(f);
	EXPECT_STREQ("N", v);
	ctl_run(&self->r, ctl_bin(), "load", NULL);
	EXPECT_EQ(1, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "already loaded"));
	ctl_run(&self->r, ctl_bin(), "load", "--if-not-loaded", NULL);
	EXPECT_EQ(0, self->r.rc);
}

#define ACCT_PARAM "/sys/module/hpalloc/parameters/accounting"

/* The accounting parameter's value (one line, no newline), "" if none. */
static const char *accounting_now(char *buf, size_t len)
{
	FILE *f = fopen(ACCT_PARAM, "r");

	buf[0] = '\0';
	if (!f)
		return buf;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
	return buf;
}

/* -errno of writing s to the accounting parameter, 0 if it took it. */
static int accounting_write(const char *s)
{
	int fd = open(ACCT_PARAM, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		err = -errno;
	close(fd);
	return err;
}

/*
 * accounting= at load: the two names the module knows (memlock, memcg;
 * kmod/account.c, hpalloc(4)) and nothing else.  Case matters, and there
 * is no combination: "memcg,memlock" is not a third mode.  A refused value
 * fails the load (exit 1) with the module's own reason from the kernel
 * log, and loads nothing; an accepted one reads back from sysfs and from
 * status --json.  Once loaded, a refused value (at load or written to
 * sysfs) leaves the parameter as it was.
 */
TEST_F(ctl, load_accounting)
{
	static const char *const bad[] = {
		"bogus", "MEMCG", "memcg,memlock",
	};
	struct json_object *st;
	char arg[64], want[128], v[32];
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(arg, sizeof(arg), "accounting=%s", bad[i]);
		ctl_run(&self->r, ctl_bin(), "load", arg, NULL);
		EXPECT_EQ(1, self->r.rc) TH_LOG("%s: out: %s err: %s", arg,
						self->r.out, self->r.err);
		EXPECT_NE(NULL, strstr(self->r.err, "Invalid argument"))
			TH_LOG("%s: %s", arg, self->r.err);
		snprintf(want, sizeof(want),
			 "kernel: hpalloc: %s: not one of memlock, memcg", arg);
		EXPECT_NE(NULL, strstr(self->r.err, want))
			TH_LOG("%s: %s", arg, self->r.err);
		EXPECT_FALSE(module_loaded()) TH_LOG("%s loaded it", arg);
		if (module_loaded())
			ctl_run(&self->r, ctl_bin(), "unload", NULL);
	}

	ctl_run(&self->r, ctl_bin(), "load", "accounting=memcg", NULL);
	ASSERT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	EXPECT_STREQ("memcg", accounting_now(v, sizeof(v)));
	st = status(_metadata, self);
	ASSERT_NE(NULL, st);
	EXPECT_STREQ("memcg", json_object_get_string(
			ctl_json_get(st, "module.parameters.accounting")));
	json_object_put(st);

	/* Refusals once loaded: the value stays memcg. */
	ctl_run(&self->r, ctl_bin(), "load", "accounting=bogus", NULL);
	EXPECT_EQ(1, self->r.rc);
	EXPECT_NE(NULL, strstr(self->r.err, "already loaded"));
	EXPECT_STREQ("memcg", accounting_now(v, sizeof(v)));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, accounting_write(bad[i])) TH_LOG("%s", bad[i]);
		EXPECT_STREQ("memcg", accounting_now(v, sizeof(v)))
			TH_LOG("after writing %s", bad[i]);
	}
	EXPECT_EQ(0, accounting_write("memlock"));
	EXPECT_STREQ("memlock", accounting_now(v, sizeof(v)));
	ctl_run(&self->r, ctl_bin(), "unload", NULL);
	EXPECT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);

	/* And without the parameter, the default. */
	ctl_run(&self->r, ctl_bin(), "load", NULL);
	ASSERT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	EXPECT_STREQ("memlock", accounting_now(v, sizeof(v)));
}

/*
 * A child maps 4 MiB of the device and closes the file: the mapping alone
 * holds the module.  unload names the child and fails; after the child
 * unmaps, it works.
 */
TEST_F(ctl, unload_while_mapped)
{
	int ready[2], go[2];
	char want[128], c;
	pid_t pid;

	ctl_run(&self->r, ctl_bin(), "load", NULL);
	ASSERT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = open("/dev/hpalloc", O_RDWR);
		char *p;

		prctl(PR_SET_NAME, "hpa-holder");
		if (fd < 0)
			_exit(1);
		p = mmap(NULL, 2 * SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED,
			 fd, 0);
		close(fd);
		if (p == MAP_FAILED)
			_exit(2);
		p[0] = 1;
		p[SZ_2M] = 1;
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		munmap(p, 2 * SZ_2M);
		_exit(0);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	ctl_run(&self->r, ctl_bin(), "unload", NULL);
	EXPECT_EQ(4, self->r.rc) TH_LOG("%s", self->r.err);
	snprintf(want, sizeof(want),
		 "pid %d (hpa-holder): 0 open files, 1 mapping (4 MiB)", pid);
	EXPECT_NE(NULL, strstr(self->r.err, want)) TH_LOG("%s", self->r.err);
	EXPECT_TRUE(module_loaded());

	/* --wait: the child unmaps while it waits. */
	ASSERT_EQ(1, write(go[1], "g", 1));
	ctl_run(&self->r, ctl_bin(), "unload", "--wait=60", NULL);
	EXPECT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	EXPECT_FALSE(module_loaded());
	EXPECT_EQ(pid, waitpid(pid, NULL, 0));
}

/* A process holding the open file (no mapping) is named the same way. */
TEST_F(ctl, unload_while_open)
{
	char want[128];
	int fd;

	ctl_run(&self->r, ctl_bin(), "load", NULL);
	ASSERT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
	fd = open("/dev/hpalloc", O_RDWR);
	ASSERT_LE(0, fd);
	ctl_run(&self->r, ctl_bin(), "unload", "--wait=0.5", NULL);
	EXPECT_EQ(4, self->r.rc);
	snprintf(want, sizeof(want), "pid %d (", getpid());
	EXPECT_NE(NULL, strstr(self->r.err, want)) TH_LOG("%s", self->r.err);
	EXPECT_NE(NULL, strstr(self->r.err, "1 open file, 0 mappings"));
	close(fd);
	ctl_run(&self->r, ctl_bin(), "unload", NULL);
	EXPECT_EQ(0, self->r.rc) TH_LOG("%s", self->r.err);
}

TEST_HARNESS_MAIN
