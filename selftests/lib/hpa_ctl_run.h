/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Run hpallocctl as a child and keep what it printed, for the tests of the
 * tool (selftests/lib/test_ctl.c on the host, selftests/ctl/ in the guest).
 */
#ifndef HPA_CTL_RUN_H
#define HPA_CTL_RUN_H

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

struct ctl_out {
	int rc;			/* exit status, or 128 + signal */
	char out[65536];
	char err[16384];
};

/* Read both pipes to their end without one of them filling up. */
static inline void ctl_drain(int ofd, int efd, struct ctl_out *r)
{
	size_t no = 0, ne = 0;
	struct pollfd p[2] = { { ofd, POLLIN, 0 }, { efd, POLLIN, 0 } };
	int open_fds = 2;

	while (open_fds > 0 && poll(p, 2, -1) > 0) {
		int i;

		for (i = 0; i < 2; i++) {
			char *buf = i ? r->err : r->out;
			size_t *n = i ? &ne : &no;
			size_t cap = i ? sizeof(r->err) : sizeof(r->out);
			char junk[4096];
			ssize_t k;

			if (!(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (*n < cap - 1)
				k = read(p[i].fd, buf + *n, cap - 1 - *n);
			else
				k = read(p[i].fd, junk, sizeof(junk));
			if (k <= 0) {
				p[i].fd = -1;
				open_fds--;
			} else if (*n < cap - 1) {
				*n += (size_t)k;
			}
		}
	}
	r->out[no] = '\0';
	r->err[ne] = '\0';
}

/* ctl_run(r, path_to_hpallocctl, arg, ..., NULL) */
static inline int ctl_run(struct ctl_out *r, const char *ctl, ...)
{
	char *argv[32];
	int o[2], e[2], st, n = 0;
	va_list ap;
	pid_t pid;

	argv[n++] = (char *)ctl;
	va_start(ap, ctl);
	while (n < 31 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	if (pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		execv(ctl, argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	ctl_drain(o[0], e[0], r);
	close(o[0]);
	close(e[0]);
	waitpid(pid, &st, 0);
	r->rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return r->rc;
}

/* Member lookup by a dotted path ("module.pools"); NULL if absent. */
static inline struct json_object *ctl_json_get(struct json_object *o,
					       const char *path)
{
	char buf[256], *cur = buf, *key;

	snprintf(buf, sizeof(buf), "%s", path);
	while (o && (key = strsep(&cur, ".")) != NULL)
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
	return o;
}

/* The pool {node, size} of a status --json object, or NULL. */
static inline struct json_object *ctl_json_pool(struct json_object *st,
						int node, const char *size)
{
	struct json_object *pools = ctl_json_get(st, "module.pools");
	size_t i;

	for (i = 0; pools && i < json_object_array_length(pools); i++) {
		struct json_object *p = json_object_array_get_idx(pools, i);

		if (json_object_get_int(ctl_json_get(p, "node")) == node &&
		    !strcmp(json_object_get_string(ctl_json_get(p, "size")),
			    size))
			return p;
	}
	return NULL;
}

#endif
