// SPDX-License-Identifier: MIT
/*
 * Guest test of the DPDK external heap (KTAP): for DPDK's PA and VA IOVA
 * modes, a primary process puts an hpalloc buffer into the heap "hpalloc",
 * builds an mbuf pool on it, checks every mbuf's buf_iova against
 * hpalloc's own page table, and forwards packets through a net_ring port
 * (a loopback ring) on those mbufs; a secondary process maps the buffer
 * from its dma-buf fd at the primary's address, attaches to the heap and
 * uses the same pool.  At the end the hpalloc pools are back where they
 * were.  DPDK runs on hugetlbfs pages of its own (a secondary needs the
 * shared configuration, which --no-huge cannot give).
 *
 *   hpa_dpdk_test                    the test (needs root and /dev/hpalloc)
 *   hpa_dpdk_test --primary pa|va    one primary run (exit 0 ok, 4 skip)
 *   hpa_dpdk_test --secondary MODE FD VA
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/syscall.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memory.h>
#include <rte_memzone.h>
#include <rte_mempool.h>

#include <hpalloc.h>

#include "kselftest.h"
#include "hpa_dpdk.h"

#define HEAP		"hpalloc"
#define POOL		"hpa_mbufs"
#define MARKER		"hpa_marker"
#define MARKER_TEXT	"written by the primary"
#define HEAP_LEN	(64UL << 20)
#define NR_MBUFS	1023
#define NR_PACKETS	4096
#define BURST		32
#define HUGE_DIR	"/tmp/hpa-dpdk-huge"
#define NR_HUGE		"/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"

#define EXIT_SKIP	4

static void fail(const char *what)
{
	fprintf(stderr, "# %s: %s\n", what, rte_strerror(rte_errno));
}

static int eal_init(const char *prog, const char *mode, int secondary)
{
	char iova[32], prefix[32];
	char *argv[16];
	int argc = 0;

	snprintf(iova, sizeof(iova), "--iova-mode=%s", mode);
	snprintf(prefix, sizeof(prefix), "--file-prefix=hpa%s", mode);
	argv[argc++] = (char *)prog;
	argv[argc++] = "-l";
	argv[argc++] = secondary ? "1" : "0";
	argv[argc++] = secondary ? "--proc-type=secondary" :
				   "--proc-type=primary";
	argv[argc++] = prefix;
	argv[argc++] = iova;
	argv[argc++] = "--no-pci";
	argv[argc++] = "--no-telemetry";
	argv[argc++] = "--huge-dir=" HUGE_DIR;
	argv[argc++] = "--log-level=lib.eal:warning";
	if (!secondary) {
		argv[argc++] = "--vdev=net_ring0";
		argv[argc++] = "-m";
		argv[argc++] = "32";
	}
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0) {
		fail("rte_eal_init");
		return -1;
	}
	return 0;
}

/* What the primary's table says the IOVA of addr is. */
static rte_iova_t table_iova(const struct hpa_dpdk_heap *h, const void *addr)
{
	size_t off = (uintptr_t)addr - (uintptr_t)h->va;

	return h->iova[off / h->page_size] + off % h->page_size;
}

static int in_heap(const struct hpa_dpdk_heap *h, const void *addr)
{
	return (uintptr_t)addr >= (uintptr_t)h->va &&
	       (uintptr_t)addr < (uintptr_t)h->va + h->len;
}

struct iova_check {
	const struct hpa_dpdk_heap *h;
	unsigned int seen, bad;
	uint64_t first_phys;
};

/* Every mbuf lives in the heap, with hpalloc's physical address. */
static void check_mbuf(struct rte_mempool *mp, void *arg, void *obj,
		       unsigned int idx)
{
	struct iova_check *c = arg;
	struct rte_mbuf *m = obj;
	uint64_t phys = 0;

	(void)mp;
	c->seen++;
	if (!in_heap(c->h, m->buf_addr) ||
	    m->buf_iova != table_iova(c->h, m->buf_addr)) {
		if (!c->bad++)
			fprintf(stderr, "# mbuf %u: buf_addr %p buf_iova %#lx, table %#lx\n",
				idx, m->buf_addr, (unsigned long)m->buf_iova,
				(unsigned long)table_iova(c->h, m->buf_addr));
		return;
	}
	/* in PA mode, hpalloc's per-address answer agrees as well */
	if (rte_eal_iova_mode() == RTE_IOVA_PA &&
	    (hpa_virt2phys(m->buf_addr, &phys) || phys != m->buf_iova)) {
		if (!c->bad++)
			fprintf(stderr, "# mbuf %u: hpa_virt2phys %#lx, buf_iova %#lx\n",
				idx, (unsigned long)phys,
				(unsigned long)m->buf_iova);
	}
}

static int forward(uint16_t port, struct rte_mempool *pool,
		   const struct hpa_dpdk_heap *h)
{
	struct rte_mbuf *tx[BURST], *rx[BURST];
	unsigned int sent = 0, got = 0, i;
	uint32_t seq = 0, want = 0;

	while (sent < NR_PACKETS) {
		uint16_t n, k;

		if (rte_pktmbuf_alloc_bulk(pool, tx, BURST)) {
			fprintf(stderr, "# mbuf pool empty\n");
			return -1;
		}
		for (i = 0; i < BURST; i++) {
			uint32_t *d = (uint32_t *)rte_pktmbuf_append(tx[i], 64);

			d[0] = seq++;
			d[15] = ~d[0];
		}
		n = rte_eth_tx_burst(port, 0, tx, BURST);
		for (i = n; i < BURST; i++)
			rte_pktmbuf_free(tx[i]);
		seq -= BURST - n;
		sent += n;
		k = rte_eth_rx_burst(port, 0, rx, BURST);
		for (i = 0; i < k; i++) {
			uint32_t *d = rte_pktmbuf_mtod(rx[i], uint32_t *);

			if (!in_heap(h, rx[i]->buf_addr) ||
			    rx[i]->buf_iova != table_iova(h, rx[i]->buf_addr) ||
			    rte_pktmbuf_data_len(rx[i]) != 64 ||
			    d[0] != want || d[15] != ~want) {
				fprintf(stderr, "# packet %u wrong\n", want);
				return -1;
			}
			want++;
			rte_pktmbuf_free(rx[i]);
		}
		got += k;
	}
	printf("# forwarded %u packets on mbufs in hpalloc memory\n", got);
	return got == sent ? 0 : -1;
}

static int start_port(uint16_t *port, struct rte_mempool *pool, int socket)
{
	struct rte_eth_conf conf = { 0 };

	if (rte_eth_dev_get_port_by_name("net_ring0", port))
		return -1;
	if (rte_eth_dev_configure(*port, 1, 1, &conf) ||
	    rte_eth_rx_queue_setup(*port, 0, 256, socket, NULL, pool) ||
	    rte_eth_tx_queue_setup(*port, 0, 256, socket, NULL) ||
	    rte_eth_dev_start(*port))
		return -1;
	return 0;
}

static int run_secondary_child(const char *mode, int fd, void *va)
{
	char fds[16], vas[32];
	pid_t pid;
	int st;

	snprintf(fds, sizeof(fds), "%d", fd);
	snprintf(vas, sizeof(vas), "%p", va);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execl("/proc/self/exe", "hpa_dpdk_test", "--secondary", mode,
		      fds, vas, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st) ? -1 : 0;
}

static bool have_cap(int cap)
{
	struct __user_cap_header_struct hd = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &hd, d))
		return false;
	return d[cap / 32].effective & (1U << (cap % 32));
}

static int primary(const char *prog, const char *mode)
{
	struct iova_check c = { 0 };
	const struct rte_memzone *mz;
	struct rte_mempool *pool;
	struct hpa_dpdk_heap h;
	uint16_t port;
	int sfd, ret;

	if (!strcmp(mode, "pa") && !have_cap(CAP_SYS_RAWIO)) {
		printf("# PA mode needs CAP_SYS_RAWIO\n");
		return EXIT_SKIP;
	}
	if (eal_init(prog, mode, 0))
		return 1;
	if (rte_eal_iova_mode() != (strcmp(mode, "pa") ? RTE_IOVA_VA :
							  RTE_IOVA_PA)) {
		fprintf(stderr, "# EAL did not take IOVA mode %s\n", mode);
		return 1;
	}
	ret = hpa_dpdk_heap_add(HEAP, HEAP_LEN, -1, 0, &h);
	if (ret) {
		fprintf(stderr, "# hpa_dpdk_heap_add: %s\n", strerror(-ret));
		return 1;
	}
	printf("# heap %s: %zu MiB at %p, %u pages of %zu kB, socket id %d, nodes %#lx\n",
	       HEAP, h.len >> 20, h.va, h.nr_pages, h.page_size >> 10,
	       h.socket_id, (unsigned long)h.nodes);
	pool = rte_pktmbuf_pool_create(POOL, NR_MBUFS, 32, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, h.socket_id);
	if (!pool) {
		fail("rte_pktmbuf_pool_create");
		return 1;
	}
	c.h = &h;
	rte_mempool_obj_iter(pool, check_mbuf, &c);
	printf("# %u mbufs checked, %u with a wrong buf_iova\n", c.seen, c.bad);
	if (c.seen != NR_MBUFS || c.bad)
		return 1;
	if (start_port(&port, pool, h.socket_id)) {
		fail("net_ring0");
		return 1;
	}
	if (forward(port, pool, &h))
		return 1;

	mz = rte_memzone_reserve(MARKER, 64, h.socket_id, 0);
	if (!mz || !in_heap(&h, mz->addr)) {
		fail("rte_memzone_reserve");
		return 1;
	}
	strcpy(mz->addr, MARKER_TEXT);
	/* the secondary inherits a copy without FD_CLOEXEC */
	sfd = dup(h.fd);
	if (sfd < 0 || run_secondary_child(mode, sfd, h.va)) {
		fprintf(stderr, "# the secondary failed\n");
		return 1;
	}
	close(sfd);

	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	rte_memzone_free(mz);
	rte_mempool_free(pool);
	ret = hpa_dpdk_heap_release(HEAP, &h);
	if (ret) {
		fprintf(stderr, "# hpa_dpdk_heap_release: %s\n",
			strerror(-ret));
		return 1;
	}
	rte_eal_cleanup();
	return 0;
}

static int secondary(const char *prog, const char *mode, int fd, void *va)
{
	const struct rte_memzone *mz;
	struct rte_mbuf *m[8];
	struct rte_mempool *pool;
	struct hpa_dpdk_heap h;
	int ret, i;

	if (eal_init(prog, mode, 1))
		return 1;
	ret = hpa_dpdk_heap_attach(HEAP, fd, va, &h);
	if (ret) {
		fprintf(stderr, "# hpa_dpdk_heap_attach at %p: %s\n", va,
			strerror(-ret));
		return 1;
	}
	mz = rte_memzone_lookup(MARKER);
	if (!mz || !in_heap(&h, mz->addr) || strcmp(mz->addr, MARKER_TEXT)) {
		fprintf(stderr, "# the primary's memzone is not there\n");
		return 1;
	}
	pool = rte_mempool_lookup(POOL);
	if (!pool || rte_pktmbuf_alloc_bulk(pool, m, 8)) {
		fprintf(stderr, "# no mbufs from the primary's pool\n");
		return 1;
	}
	for (i = 0; i < 8; i++) {
		struct rte_memseg *ms = rte_mem_virt2memseg(m[i]->buf_addr,
							    NULL);

		if (!in_heap(&h, m[i]->buf_addr) || !ms ||
		    m[i]->buf_iova != ms->iova + ((uintptr_t)m[i]->buf_addr -
						  (uintptr_t)ms->addr)) {
			fprintf(stderr, "# mbuf %d not as the heap says\n", i);
			return 1;
		}
	}
	rte_pktmbuf_free_bulk(m, 8);
	printf("# secondary: heap attached at %p, memzone read, 8 mbufs used\n",
	       h.va);
	ret = hpa_dpdk_heap_release(HEAP, &h);
	close(fd);
	rte_eal_cleanup();
	return ret ? 1 : 0;
}

/* ---- the test driver ------------------------------------------------------ */

static long read_long(const char *path)
{
	char buf[32] = "";
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f, "%ld\n", v);
	return fclose(f);
}

/* Sum of in_use + zeroing over every hpalloc pool. */
static long pools_busy(void)
{
	const char *pat[] = { "/sys/kernel/hpalloc/node*/*/in_use",
			      "/sys/kernel/hpalloc/node*/*/zeroing" };
	long sum = 0;
	size_t i, j;

	for (i = 0; i < 2; i++) {
		glob_t g;

		if (glob(pat[i], 0, NULL, &g))
			continue;
		for (j = 0; j < g.gl_pathc; j++)
			sum += read_long(g.gl_pathv[j]);
		globfree(&g);
	}
	return sum;
}

static void run_mode(const char *mode)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", "hpa_dpdk_test", "--primary", mode,
		      (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
		ksft_test_result_fail("dpdk_%s: primary died\n", mode);
		return;
	}
	if (WEXITSTATUS(st) == EXIT_SKIP)
		ksft_test_result_skip("dpdk_%s: needs CAP_SYS_RAWIO\n", mode);
	else
		ksft_test_result(WEXITSTATUS(st) == 0,
				 "dpdk_%s: heap, mbuf IOVAs, forwarding, secondary\n",
				 mode);
}

int main(int argc, char **argv)
{
	long huge0, busy0, busy = -1;
	int i;

	if (argc == 3 && !strcmp(argv[1], "--primary"))
		return primary(argv[0], argv[2]);
	if (argc == 5 && !strcmp(argv[1], "--secondary"))
		return secondary(argv[0], argv[2], atoi(argv[3]),
				 (void *)strtoul(argv[4], NULL, 16));

	ksft_print_header();
	ksft_set_plan(3);
	if (access("/dev/hpalloc", F_OK)) {
		ksft_test_result_skip("dpdk_pa: no /dev/hpalloc\n");
		ksft_test_result_skip("dpdk_va: no /dev/hpalloc\n");
		ksft_test_result_skip("pools_back: no /dev/hpalloc\n");
		ksft_finished();
	}
	huge0 = read_long(NR_HUGE);
	if (huge0 < 64 && write_long(NR_HUGE, 64))
		ksft_exit_fail_msg("cannot reserve 2 MiB hugetlb pages for DPDK\n");
	/* EAL keeps its runtime files of root in /var/run (an initramfs has none) */
	mkdir("/var", 0755);
	mkdir("/var/run", 0755);
	mkdir(HUGE_DIR, 0700);
	if (mount("nodev", HUGE_DIR, "hugetlbfs", 0, "pagesize=2M"))
		ksft_exit_fail_msg("mount hugetlbfs: %s\n", strerror(errno));
	busy0 = pools_busy();

	run_mode("pa");
	run_mode("va");

	/* freed pages pass through zeroing */
	for (i = 0; i < 1500; i++) {
		busy = pools_busy();
		if (busy == busy0)
			break;
		usleep(20000);
	}
	ksft_test_result(busy == busy0,
			 "pools_back: in_use + zeroing %ld, before %ld\n", busy,
			 busy0);
	umount(HUGE_DIR);
	rmdir(HUGE_DIR);
	if (huge0 >= 0 && huge0 < 64)
		write_long(NR_HUGE, huge0);
	ksft_finished();
}
