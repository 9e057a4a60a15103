/* SPDX-License-Identifier: MIT */
/*
 * hpallocctl internals: the system and module state as one json-c object
 * (the text view and --json print the same object, so they cannot
 * disagree), and the module actions on libkmod.
 */
#ifndef HPA_CTL_H
#define HPA_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

/* Exit codes, documented in hpallocctl(8). */
enum {
	CTL_OK = 0,
	CTL_ERR = 1,		/* the action failed; stderr says why */
	CTL_USAGE = 2,		/* bad command line */
	CTL_SHORT = 3,		/* done, but a pool got fewer pages than asked */
	CTL_BUSY = 4,		/* unload refused: the module is in use */
};

/* "" normally; a directory that stands in for / (tests: --sysroot). */
extern const char *ctl_root;

/* ctl_root + path, in a static rotating buffer (valid for a few calls). */
const char *ctl_path(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* First line of a file, without its newline; NULL (errno set) if none. */
char *ctl_read_line(const char *path);
/* An unsigned decimal file; -1 if it cannot be read or parsed. */
long long ctl_read_ull(const char *path);

bool ctl_module_loaded(void);
/* Page size names as the module's sysfs spells them: "2M" or "1G". */
const char *ctl_size_name(const char *arg);

/* Everything `status` shows, and the hint line. */
struct json_object *ctl_state(void);
void ctl_print_state(struct json_object *st, bool verbose);
/* The module part only ({"loaded": false} when it is not). */
struct json_object *ctl_module_state(void);
/* The pool counters of node/size as an object, NULL if no such pool. */
struct json_object *ctl_pool_state(int node, const char *size);

/* libkmod: where the module file is for this kernel, or NULL + where it
 * looked in *looked (static). */
char *ctl_module_path(const char **looked);

struct ctl_load_args {
	char *pages_2m;		/* NODE:N,... or NULL */
	char *pages_1g;
	char *params;		/* other "name=value ..." or NULL */
	bool if_not_loaded;
};
int ctl_load(const struct ctl_load_args *a);

struct ctl_unload_args {
	bool wait;
	double timeout_s;	/* with wait: 0 = forever */
};
int ctl_unload(const struct ctl_unload_args *a);

/* Processes holding /dev/hpalloc: an array of {pid, comm, files, mappings,
 * bytes}; *total counts files + mappings. */
struct json_object *ctl_holders(long *total);

#endif
