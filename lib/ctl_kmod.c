// SPDX-License-Identifier: MIT
/*
 * hpallocctl: loading and unloading hpalloc.ko with libkmod, the way
 * modprobe does (modules.dep lookup, options from modprobe.d), and naming
 * what holds the module when it cannot go.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <libkmod.h>

#include "ctl.h"

static char looked_in[PATH_MAX];

/* libkmod's context: the running kernel's module tree, or the sysroot's. */
static struct kmod_ctx *ctl_kmod_new(void)
{
	static char dir[PATH_MAX], conf[PATH_MAX];
	const char *confs[2] = { conf, NULL };
	struct kmod_ctx *ctx;

	if (*ctl_root) {
		char *rel = ctl_read_line(ctl_path("/proc/sys/kernel/osrelease"));

		snprintf(dir, sizeof(dir), "%s/lib/modules/%s", ctl_root,
			 rel ? rel : "unknown");
		snprintf(conf, sizeof(conf), "%s/etc/modprobe.d", ctl_root);
		free(rel);
		ctx = kmod_new(dir, confs);
	} else {
		ctx = kmod_new(NULL, NULL);
	}
	if (ctx)
		snprintf(looked_in, sizeof(looked_in), "%s",
			 kmod_get_dirname(ctx));
	return ctx;
}

/* The hpalloc module of ctx's tree, or NULL if modules.dep has none. */
static struct kmod_module *lookup(struct kmod_ctx *ctx)
{
	struct kmod_list *list = NULL, *l;
	struct kmod_module *mod = NULL;

	if (kmod_module_new_from_lookup(ctx, "hpalloc", &list) < 0)
		return NULL;
	kmod_list_foreach(l, list) {
		struct kmod_module *m = kmod_module_get_module(l);

		if (!mod && !strcmp(kmod_module_get_name(m), "hpalloc") &&
		    kmod_module_get_path(m))
			mod = m;
		else
			kmod_module_unref(m);
	}
	kmod_module_unref_list(list);
	return mod;
}

char *ctl_module_path(const char **looked)
{
	struct kmod_ctx *ctx = ctl_kmod_new();
	struct kmod_module *mod;
	char *path = NULL;

	*looked = looked_in;
	if (!ctx)
		return NULL;
	mod = lookup(ctx);
	if (mod) {
		path = strdup(kmod_module_get_path(mod));
		kmod_module_unref(mod);
	}
	kmod_unref(ctx);
	return path;
}

/*
 * The kernel's log from now on: the module says in it why a load failed
 * ("hpalloc: pages_2m=...: node 9 has no memory").  -1 if /dev/kmsg cannot
 * be read (then the messages point to dmesg).
 */
static int kmsg_open(void)
{
	int fd = open(ctl_path("/dev/kmsg"), O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* Print the hpalloc lines logged since kmsg_open at priority <= maxprio;
 * returns how many. */
static int kmsg_print(int fd, int maxprio, const char *lead)
{
	char rec[8192];
	int shown = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	for (;;) {
		char *msg, *nl;
		int prio;

		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten: go on */
			continue;
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		if (!msg || sscanf(rec, "%d", &prio) != 1)
			continue;
		msg++;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = '\0';
		if ((prio & 7) > maxprio || strncmp(msg, "hpalloc: ", 9))
			continue;
		fprintf(stderr, "%skernel: %s\n", lead, msg);
		shown++;
	}
	return shown;
}

static const char *kernel_release(void)
{
	static struct utsname u;
	static char rel[128];
	char *r;

	if (*ctl_root) {
		r = ctl_read_line(ctl_path("/proc/sys/kernel/osrelease"));
		snprintf(rel, sizeof(rel), "%s", r ? r : "?");
		free(r);
		return rel;
	}
	uname(&u);
	return u.release;
}

/* Every "NODE:COUNT" of a pages_* parameter against what the pool holds. */
static int report_pools(const char *param, const char *size)
{
	char *v = ctl_read_line(ctl_path("/sys/module/hpalloc/parameters/%s",
					 param));
	char *cur = v, *item;
	int ret = CTL_OK;

	if (!v || !strcmp(v, "(null)")) {
		free(v);
		return CTL_OK;
	}
	while ((item = strsep(&cur, ",")) != NULL) {
		int node;
		long long want, got;
		char path[PATH_MAX];

		if (sscanf(item, "%d:%lld", &node, &want) != 2)
			continue;
		snprintf(path, sizeof(path), "%s",
			 ctl_path("/sys/kernel/hpalloc/node%d/%s/total", node,
				  size));
		got = ctl_read_ull(path);
		if (got < want) {
			printf("node %d %s: got %lld of %lld pages%s\n", node,
			       size, got < 0 ? 0 : got, want,
			       !strcmp(size, "1G") ?
			       " (1 GiB ranges are scarce once memory fragments: take them at boot, see hpalloc.service)" : "");
			ret = CTL_SHORT;
		} else {
			printf("node %d %s: %lld pages\n", node, size, got);
		}
	}
	free(v);
	return ret;
}

int ctl_load(const struct ctl_load_args *a)
{
	struct kmod_ctx *ctx;
	struct kmod_module *mod;
	char *opts = NULL;
	int err, kfd, ret, r2;
	size_t len;
	FILE *f;

	if (ctl_module_loaded()) {
		if (a->if_not_loaded) {
			printf("hpalloc is already loaded\n");
			return CTL_OK;
		}
		fprintf(stderr, "hpallocctl: hpalloc is already loaded (resize pools with hpallocctl pool, or unload first)\n");
		return CTL_ERR;
	}
	ctx = ctl_kmod_new();
	if (!ctx) {
		fprintf(stderr, "hpallocctl: libkmod: cannot start: %s\n",
			strerror(errno));
		return CTL_ERR;
	}
	mod = lookup(ctx);
	if (!mod) {
		fprintf(stderr, "hpallocctl: hpalloc.ko not found for Linux %s (looked in %s/modules.dep): install hpalloc-dkms, or run depmod after copying the module there\n",
			kernel_release(), looked_in);
		kmod_unref(ctx);
		return CTL_ERR;
	}

	f = open_memstream(&opts, &len);
	if (!f) {
		kmod_module_unref(mod);
		kmod_unref(ctx);
		return CTL_ERR;
	}
	if (a->pages_2m)
		fprintf(f, "pages_2m=%s ", a->pages_2m);
	if (a->pages_1g)
		fprintf(f, "pages_1g=%s ", a->pages_1g);
	if (a->params)
		fprintf(f, "%s", a->params);
	fclose(f);

	kfd = kmsg_open();
	err = kmod_module_probe_insert_module(mod, KMOD_PROBE_FAIL_ON_LOADED,
					      opts, NULL, NULL, NULL);
	ret = CTL_OK;
	if (err == -EEXIST) {
		fprintf(stderr, "hpallocctl: hpalloc is already loaded\n");
		ret = a->if_not_loaded ? CTL_OK : CTL_ERR;
	} else if (err == -EPERM) {
		fprintf(stderr, "hpallocctl: loading %s: permission denied (needs root: CAP_SYS_MODULE)\n",
			kmod_module_get_path(mod));
		ret = CTL_ERR;
	} else if (err < 0) {
		fprintf(stderr, "hpallocctl: loading %s with \"%s\" failed: %s\n",
			kmod_module_get_path(mod), opts, strerror(-err));
		if (!kmsg_print(kfd, 7, "hpallocctl: "))
			fprintf(stderr, "hpallocctl: (the kernel log, dmesg, may say why)\n");
		ret = CTL_ERR;
	} else if (err > 0) {
		fprintf(stderr, "hpallocctl: hpalloc is blacklisted in modprobe.d\n");
		ret = CTL_ERR;
	} else {
		char *ver = ctl_read_line(ctl_path("/sys/module/hpalloc/version"));

		printf("hpalloc %s loaded from %s\n", ver ? ver : "?",
		       kmod_module_get_path(mod));
		free(ver);
		/* Warnings of a successful load: an ignored parameter. */
		kmsg_print(kfd, 4, "hpallocctl: warning: ");
		ret = report_pools("pages_2m", "2M");
		r2 = report_pools("pages_1g", "1G");
		if (r2 != CTL_OK)
			ret = r2;
	}
	if (kfd >= 0)
		close(kfd);
	free(opts);
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return ret;
}

/* "MAJ:MIN" of the misc device, for matching open files. */
static bool device_number(dev_t *rdev)
{
	char *s = ctl_read_line(ctl_path("/sys/class/misc/hpalloc/dev"));
	unsigned int ma, mi;
	bool ok = s && sscanf(s, "%u:%u", &ma, &mi) == 2;

	free(s);
	if (ok)
		*rdev = makedev(ma, mi);
	return ok;
}

static bool is_device_file(const char *fdpath, bool have_rdev, dev_t rdev)
{
	char link[PATH_MAX];
	struct stat st;
	ssize_t n = readlink(fdpath, link, sizeof(link) - 1);

	if (n > 0) {
		link[n] = '\0';
		if (!strcmp(link, "/dev/hpalloc"))
			return true;
	}
	return have_rdev && stat(fdpath, &st) == 0 && S_ISCHR(st.st_mode) &&
	       st.st_rdev == rdev;
}

/* Mappings of the device in /proc/PID/maps, and the bytes they span. */
static long count_mappings(int pid, const struct stat *dev, long long *bytes)
{
	FILE *f = fopen(ctl_path("/proc/%d/maps", pid), "re");
	char line[PATH_MAX + 128];
	long n = 0;

	*bytes = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, ino;
		unsigned int ma, mi;
		char path[PATH_MAX] = "";

		if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu %4095[^\n]", &start,
			   &end, &ma, &mi, &ino, path) < 5)
			continue;
		if (strcmp(path, "/dev/hpalloc") &&
		    !(dev && ino && ino == dev->st_ino &&
		      makedev(ma, mi) == dev->st_dev))
			continue;
		n++;
		*bytes += (long long)(end - start);
	}
	fclose(f);
	return n;
}

struct json_object *ctl_holders(long *total)
{
	struct json_object *arr = json_object_new_array();
	struct stat devst;
	bool have_dev = stat(ctl_path("/dev/hpalloc"), &devst) == 0;
	dev_t rdev = 0;
	bool have_rdev = device_number(&rdev);
	struct dirent *de;
	DIR *proc = opendir(ctl_path("/proc"));

	*total = 0;
	if (!proc)
		return arr;
	while ((de = readdir(proc)) != NULL) {
		char *end, fdpath[PATH_MAX];
		long pid = strtol(de->d_name, &end, 10), files = 0, maps;
		long long bytes;
		struct dirent *fe;
		DIR *fds;

		if (*end || pid <= 0 || pid == getpid())
			continue;
		fds = opendir(ctl_path("/proc/%ld/fd", pid));
		while (fds && (fe = readdir(fds)) != NULL) {
			if (fe->d_name[0] == '.')
				continue;
			snprintf(fdpath, sizeof(fdpath), "%s",
				 ctl_path("/proc/%ld/fd/%s", pid, fe->d_name));
			files += is_device_file(fdpath, have_rdev, rdev);
		}
		if (fds)
			closedir(fds);
		maps = count_mappings((int)pid, have_dev ? &devst : NULL,
				      &bytes);
		if (files || maps) {
			struct json_object *h = json_object_new_object();
			char *comm = ctl_read_line(ctl_path("/proc/%ld/comm", pid));

			json_object_object_add(h, "pid", json_object_new_int64(pid));
			json_object_object_add(h, "comm",
					       json_object_new_string(comm ? comm : "?"));
			json_object_object_add(h, "files", json_object_new_int64(files));
			json_object_object_add(h, "mappings", json_object_new_int64(maps));
			json_object_object_add(h, "bytes", json_object_new_int64(bytes));
			json_object_array_add(arr, h);
			*total += files + maps;
			free(comm);
		}
	}
	closedir(proc);
	return arr;
}

static void print_holders(long long refcnt)
{
	long total;
	struct json_object *h = ctl_holders(&total);
	size_t i, n = json_object_array_length(h);

	fprintf(stderr, "hpallocctl: hpalloc is in use (%lld references), not unloaded:\n",
		refcnt);
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(h, i), *v;
		long long pid, files, maps, bytes;
		const char *comm;

		json_object_object_get_ex(o, "pid", &v);
		pid = json_object_get_int64(v);
		json_object_object_get_ex(o, "comm", &v);
		comm = json_object_get_string(v);
		json_object_object_get_ex(o, "files", &v);
		files = json_object_get_int64(v);
		json_object_object_get_ex(o, "mappings", &v);
		maps = json_object_get_int64(v);
		json_object_object_get_ex(o, "bytes", &v);
		bytes = json_object_get_int64(v);
		fprintf(stderr, "  pid %lld (%s): %lld open file%s, %lld mapping%s (%lld MiB)\n",
			pid, comm, files, files == 1 ? "" : "s", maps,
			maps == 1 ? "" : "s", bytes >> 20);
	}
	if (!n)
		fprintf(stderr, "  no process shows an open file or mapping of /dev/hpalloc (a kernel user, or one that just went)\n");
	fprintf(stderr, "hpallocctl: close or unmap them, or use hpallocctl unload --wait\n");
	json_object_put(h);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int ctl_unload(const struct ctl_unload_args *a)
{
	double deadline = now_s() + a->timeout_s;
	struct kmod_ctx *ctx;
	struct kmod_module *mod;
	int err, kfd, ret = CTL_OK;

	if (!ctl_module_loaded()) {
		fprintf(stderr, "hpallocctl: hpalloc is not loaded\n");
		return CTL_ERR;
	}
	ctx = ctl_kmod_new();
	if (!ctx || kmod_module_new_from_name(ctx, "hpalloc", &mod) < 0) {
		fprintf(stderr, "hpallocctl: libkmod: %s\n", strerror(errno));
		if (ctx)
			kmod_unref(ctx);
		return CTL_ERR;
	}
	for (;;) {
		long long refcnt = ctl_read_ull(ctl_path("/sys/module/hpalloc/refcnt"));

		if (refcnt <= 0) {
			kfd = kmsg_open();
			err = kmod_module_remove_module(mod, 0);
			if (!err) {
				/* The module checks at exit that every page came back. */
				if (kmsg_print(kfd, 3, "hpallocctl: ")) {
					fprintf(stderr, "hpallocctl: hpalloc unloaded, but reported the errors above\n");
					ret = CTL_ERR;
				} else {
					printf("hpalloc unloaded\n");
				}
				if (kfd >= 0)
					close(kfd);
				break;
			}
			if (kfd >= 0)
				close(kfd);
			if (err == -EPERM) {
				fprintf(stderr, "hpallocctl: unloading hpalloc: permission denied (needs root: CAP_SYS_MODULE)\n");
				ret = CTL_ERR;
				break;
			}
			if (err != -EAGAIN && err != -EBUSY) {
				fprintf(stderr, "hpallocctl: unloading hpalloc: %s\n",
					strerror(-err));
				ret = CTL_ERR;
				break;
			}
			refcnt = ctl_read_ull(ctl_path("/sys/module/hpalloc/refcnt"));
		}
		if (!a->wait || (a->timeout_s > 0 && now_s() >= deadline)) {
			print_holders(refcnt);
			ret = CTL_BUSY;
			break;
		}
		usleep(100 * 1000);
	}
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return ret;
}
