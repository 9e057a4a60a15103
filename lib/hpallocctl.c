// SPDX-License-Identifier: MIT
/*
 * hpallocctl: the admin and inspection tool for hpalloc.
 *   hpallocctl [status] [--json] [-v]    system, device and module state
 *   hpallocctl load [--pages-2m L] [--pages-1g L] [PARAM=VALUE...]
 *   hpallocctl unload [--wait[=SECONDS]]
 *   hpallocctl pool NODE SIZE set|min COUNT
 *   hpallocctl lib [-v] | classes         what libhpalloc-user sees
 * Exit codes and every option: hpallocctl(8), docs/hpallocctl.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/hpalloc.h>

#include "ctl.h"
#include "hpalloc.h"

#ifndef HPA_VERSION_STRING
#define HPA_VERSION_STRING "unknown"
#endif

static const char usage_main[] =
	"usage: hpallocctl [--sysroot DIR] COMMAND [ARGS]\n"
	"commands:\n"
	"  status [--json] [-v]        THP, hugetlb pools, /dev/hpalloc, the module's pools, a hint (default)\n"
	"  load [--pages-2m NODE:N,...] [--pages-1g NODE:N,...] [--if-not-loaded] [PARAM=VALUE...]\n"
	"                              load hpalloc.ko (libkmod, modprobe.d options) and report the pools\n"
	"  unload [--wait[=SECONDS]]   unload it, or name what holds it\n"
	"  pool NODE SIZE set COUNT    resize a pool (SIZE 2M or 1G) and print what it got\n"
	"  pool NODE SIZE min COUNT    set the pool's floor under memory pressure\n"
	"  lib [-v]                    the library's view: backend, device handshake, statistics\n"
	"  classes                     the library's size classes and their waste\n"
	"'hpallocctl COMMAND --help' for one command.  Exit: 0 ok, 1 failed, 2 usage,\n"
	"3 a pool got fewer pages than asked, 4 unload refused (in use).\n";

static const char usage_status[] =
	"usage: hpallocctl status [--json] [-v]\n"
	"  --json      the same state as one JSON object\n"
	"  -v          every pool counter, not only the table's columns\n";
static const char usage_load[] =
	"usage: hpallocctl load [--pages-2m NODE:N[,NODE:N...]] [--pages-1g NODE:N[,...]]\n"
	"                       [--if-not-loaded] [PARAM=VALUE...]\n"
	"  finds hpalloc.ko as modprobe does, adds the options of /etc/modprobe.d,\n"
	"  loads it and prints what each pool got (exit 3 if one came short)\n"
	"  --pages-2m, --pages-1g  pages to put in node pools (repeatable)\n"
	"  --if-not-loaded         exit 0 if the module is already loaded\n"
	"  PARAM=VALUE             other module parameters (overcommit=N ...)\n";
static const char usage_unload[] =
	"usage: hpallocctl unload [--wait[=SECONDS]]\n"
	"  refuses (exit 4) while files or mappings of /dev/hpalloc exist, naming\n"
	"  the processes; --wait waits for them to go (at most SECONDS)\n";
static const char usage_pool[] =
	"usage: hpallocctl pool NODE SIZE set COUNT | min COUNT\n"
	"  SIZE is 2M or 1G.  set: the pool grows (on that node only) or shrinks\n"
	"  to COUNT pages; prints what it got, exit 3 if less.  min: the floor\n"
	"  the shrinker keeps under memory pressure\n";
static const char usage_lib[] =
	"usage: hpallocctl lib [-v]\n"
	"  the backend libhpalloc-user chooses here, the device handshake and\n"
	"  the statistics after one allocation; -v: why better backends were skipped\n";

static bool want_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

static int usage_error(const char *usage, const char *fmt, const char *arg)
{
	fprintf(stderr, "hpallocctl: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage);
	return CTL_USAGE;
}

static void print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	bool json = false, verbose = false;
	struct json_object *st;
	int c;

	if (want_help(argc, argv)) {
		fputs(usage_status, stdout);
		return CTL_OK;
	}
	while ((c = getopt_long(argc, argv, "+jv", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'v')
			verbose = true;
		else
			return usage_error(usage_status, "%s", "bad option");
	}
	if (optind < argc)
		return usage_error(usage_status, "unexpected argument '%s'",
				   argv[optind]);
	st = ctl_state();
	if (json)
		print_json(st);
	else
		ctl_print_state(st, verbose);
	json_object_put(st);
	return CTL_OK;
}

/* Append sep + item to a list (a repeatable option's, or the parameters). */
static char *join(char *list, const char *item, char sep)
{
	char *s;

	if (!list)
		return strdup(item);
	if (asprintf(&s, "%s%c%s", list, sep, item) < 0)
		s = NULL;
	free(list);
	return s;
}

static int cmd_load(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pages-2m", required_argument, NULL, '2' },
		{ "pages-1g", required_argument, NULL, '1' },
		{ "if-not-loaded", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl_load_args a = { 0 };
	int c, i, ret;

	if (want_help(argc, argv)) {
		fputs(usage_load, stdout);
		return CTL_OK;
	}
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case '2':
			a.pages_2m = join(a.pages_2m, optarg, ',');
			break;
		case '1':
			a.pages_1g = join(a.pages_1g, optarg, ',');
			break;
		case 'n':
			a.if_not_loaded = true;
			break;
		default:
			return usage_error(usage_load, "%s", "bad option");
		}
	}
	for (i = optind; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');

		if (!eq || eq == argv[i])
			return usage_error(usage_load,
					   "'%s' is not PARAM=VALUE", argv[i]);
		a.params = join(a.params, argv[i], ' ');
	}
	ret = ctl_load(&a);
	free(a.pages_2m);
	free(a.pages_1g);
	free(a.params);
	return ret;
}

static int cmd_unload(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "wait", optional_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl_unload_args a = { 0 };
	char *end;
	int c;

	if (want_help(argc, argv)) {
		fputs(usage_unload, stdout);
		return CTL_OK;
	}
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c != 'w')
			return usage_error(usage_unload, "%s", "bad option");
		a.wait = true;
		if (optarg) {
			a.timeout_s = strtod(optarg, &end);
			if (*end || end == optarg || a.timeout_s <= 0)
				return usage_error(usage_unload,
						   "--wait=%s: not a number of seconds above 0",
						   optarg);
		}
	}
	if (optind < argc)
		return usage_error(usage_unload, "unexpected argument '%s'",
				   argv[optind]);
	return ctl_unload(&a);
}

static bool parse_count(const char *s, long long *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return !errno && !*end;
}

static int write_file(const char *path, long long v)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC), len, err = 0;

	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%lld\n", v);
	if (write(fd, buf, len) != len)
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	return err;
}

static int cmd_pool(int argc, char **argv)
{
	const char *size, *what;
	long long node, count, got;
	struct json_object *p;
	char path[4096];
	int err;

	if (want_help(argc, argv)) {
		fputs(usage_pool, stdout);
		return CTL_OK;
	}
	if (argc != 5)
		return usage_error(usage_pool, "%s",
				   "needs NODE SIZE set|min COUNT");
	if (!parse_count(argv[1], &node) || node > 1 << 20)
		return usage_error(usage_pool, "node '%s' is not a node number",
				   argv[1]);
	size = ctl_size_name(argv[2]);
	if (!size)
		return usage_error(usage_pool, "size '%s' is not 2M or 1G",
				   argv[2]);
	what = argv[3];
	if (strcmp(what, "set") && strcmp(what, "min"))
		return usage_error(usage_pool, "'%s' is not set or min", what);
	if (!parse_count(argv[4], &count))
		return usage_error(usage_pool, "count '%s' is not a decimal number",
				   argv[4]);
	if (!ctl_module_loaded()) {
		fprintf(stderr, "hpallocctl: hpalloc is not loaded (hpallocctl load)\n");
		return CTL_ERR;
	}
	p = ctl_pool_state((int)node, size);
	if (!p) {
		fprintf(stderr, "hpallocctl: node %lld has no %s pool (nodes without memory have none; see hpallocctl status)\n",
			node, size);
		return CTL_ERR;
	}
	json_object_put(p);
	snprintf(path, sizeof(path), "%s",
		 ctl_path("/sys/kernel/hpalloc/node%lld/%s/%s", node, size,
			  strcmp(what, "set") ? "min" : "target"));
	err = write_file(path, count);
	if (err) {
		fprintf(stderr, "hpallocctl: node %lld %s %s %lld: %s%s\n", node,
			size, what, count, strerror(-err),
			err == -EINVAL ? " (more pages than the machine has?)" :
			err == -EACCES || err == -EPERM ? " (needs root)" : "");
		return CTL_ERR;
	}
	got = ctl_read_ull(path);
	p = ctl_pool_state((int)node, size);
	if (!strcmp(what, "min")) {
		printf("node %lld %s: min %lld\n", node, size, got);
		json_object_put(p);
		return got == count ? CTL_OK : CTL_ERR;
	}
	{
		struct json_object *t = NULL, *f = NULL;

		json_object_object_get_ex(p, "total", &t);
		json_object_object_get_ex(p, "free", &f);
		printf("node %lld %s: target %lld of %lld asked, total %lld, free %lld\n",
		       node, size, got, count,
		       t ? (long long)json_object_get_int64(t) : -1LL,
		       f ? (long long)json_object_get_int64(f) : -1LL);
	}
	json_object_put(p);
	if (got < count) {
		fprintf(stderr, "hpallocctl: node %lld %s: got %lld of %lld pages (no more free %s ranges on that node)\n",
			node, size, got, count, size);
		return CTL_SHORT;
	}
	return CTL_OK;
}

static void print_device(void)
{
	struct hpalloc_version v = { 0 };
	int fd = open(HPALLOC_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("device:   %s: %s\n", HPALLOC_DEVICE, strerror(errno));
		return;
	}
	if (ioctl(fd, HPALLOC_IOC_VERSION, &v) != 0)
		printf("device:   HPALLOC_IOC_VERSION: %s\n", strerror(errno));
	else
		printf("device:   api %u features 0x%llx page sizes 0x%x "
		       "node ids %u\n", v.api, (unsigned long long)v.features,
		       v.page_sizes, v.nr_node_ids);
	close(fd);
}

static int cmd_classes(void)
{
	unsigned int i, n = hpa_size_classes();
	size_t prev = 0;

	printf("%5s %10s %12s\n", "class", "block", "max waste");
	for (i = 0; i < n; i++) {
		size_t s = hpa_class_size(i);

		/* Worst case: a request one byte above the previous class. */
		printf("%5u %10zu %11.1f%%\n", i, s,
		       100.0 * (double)(s - prev - 1) / (double)s);
		prev = s;
	}
	return CTL_OK;
}

static int cmd_lib(int argc, char **argv)
{
	struct hpa_stats st = { .size = sizeof(st) };
	unsigned int i;
	void *p;

	if (want_help(argc, argv)) {
		fputs(usage_lib, stdout);
		return CTL_OK;
	}
	if (argc == 2 && !strcmp(argv[1], "-v"))
		setenv("HPALLOC_DEBUG", "1", 1);	/* reasons on stderr */
	else if (argc > 1)
		return usage_error(usage_lib, "unexpected argument '%s'",
				   argv[1]);
	p = hpa_malloc(1);	/* start the library up */
	hpa_free(p);
	if (hpa_stats(&st) != 0) {
		perror("hpa_stats");
		return CTL_ERR;
	}
	printf("backend:  %s\n", hpa_backend_name(st.backend));
	print_device();
	printf("reserved: %llu GiB\n",
	       (unsigned long long)(st.reserved_bytes >> 30));
	printf("mapped:   %llu bytes, retained %llu, in use %llu\n",
	       (unsigned long long)st.bytes_mapped,
	       (unsigned long long)st.bytes_retained,
	       (unsigned long long)st.bytes_in_use);
	printf("pages:    %llu x 2 MiB, %llu x 1 GiB; fallbacks %llu\n",
	       (unsigned long long)st.huge_pages_2m,
	       (unsigned long long)st.huge_pages_1g,
	       (unsigned long long)st.fallbacks);
	for (i = 0; i < HPA_BACKEND_MAX; i++)
		printf("  %-8s mapped %llu maps %llu failures %llu\n",
		       hpa_backend_name(i),
		       (unsigned long long)st.per_backend[i].bytes_mapped,
		       (unsigned long long)st.per_backend[i].maps,
		       (unsigned long long)st.per_backend[i].map_failures);
	return CTL_OK;
}

int main(int argc, char **argv)
{
	static char no_cmd[] = "status";
	const char *cmd;
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--sysroot") && i + 1 < argc) {
			ctl_root = argv[i + 1];
			i += 2;
		} else if (!strncmp(argv[i], "--sysroot=", 10)) {
			ctl_root = argv[i] + 10;
			i++;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage_main, stdout);
			return CTL_OK;
		} else if (!strcmp(argv[i], "--version")) {
			printf("hpallocctl %s\n", HPA_VERSION_STRING);
			return CTL_OK;
		} else if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-v")) {
			break;	/* status options without the word "status" */
		} else {
			return usage_error(usage_main, "unknown option '%s'",
					   argv[i]);
		}
	}
	/* getopt_long in the commands sees argv from the command word on. */
	if (i >= argc || argv[i][0] == '-') {
		argv[--i] = no_cmd;
	}
	cmd = argv[i];
	argc -= i;
	argv += i;
	optind = 1;
	if (!strcmp(cmd, "status") || !strcmp(cmd, "list"))
		return cmd_status(argc, argv);
	if (!strcmp(cmd, "load"))
		return cmd_load(argc, argv);
	if (!strcmp(cmd, "unload"))
		return cmd_unload(argc, argv);
	if (!strcmp(cmd, "pool"))
		return cmd_pool(argc, argv);
	if (!strcmp(cmd, "lib"))
		return cmd_lib(argc, argv);
	if (!strcmp(cmd, "classes"))
		return argc > 1 && want_help(argc, argv) ?
		       (puts("usage: hpallocctl classes"), CTL_OK) : cmd_classes();
	return usage_error(usage_main, "unknown command '%s'", cmd);
}
