#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Allocator benchmarks, side by side in one run on one machine: hpalloc
# (LD_PRELOAD=libhpalloc-preload.so) against glibc malloc (plain, and with
# GLIBC_TUNABLES=glibc.malloc.hugetlb=1 / =2), jemalloc, mimalloc and
# tcmalloc (Debian's packages, installed here when missing), all put under
# the same binary (selftests/bench/bench.c) with LD_PRELOAD.  Not part of
# `make check`.
#
#   scripts/bench.sh [-h] [-t TABLE_GIB] [-g GROW_MAX] [-s SECONDS] [-r REPEATS]
#                    [-n CG_OPS] [-k SECTIONS] [-a ALLOCATORS] [-o OUTPUT.md]
#
#   -t  random-update table size in GiB (default 4; the issue asks 4-8)
#   -g  realloc growth target in bytes (default 8589934592 = 8 GiB)
#   -s  seconds per small-object run (default 1), -r rounds (default 3):
#       each round runs every shape on every allocator (A B C ... A B C
#       ...); throughput is the median of the rounds, a time ratio the
#       median of the per-round ratios, every run in OUTPUT-rounds.txt
#       (docs/bench.md uses 9: on a shared machine 5 did not pin the
#       noisiest shapes)
#   -n  malloc/free pairs per callgrind run (default 200000)
#   -k  sections to run, comma-separated: small,cg,rss,grow,tlb (default
#       all; the others read n/a)
#   -a  allocators, comma-separated (default all: glibc,glibc-thp,
#       glibc-hugetlb,jemalloc,mimalloc,tcmalloc,hpalloc; glibc-thp and
#       glibc-hugetlb only run in the grow, rss and tlb sections)
#   -o  markdown results (default docs/bench.md); in an existing file with
#       a `<!-- results -->` line only what lies between it and
#       `<!-- end of results -->` is replaced (text before and after stays)
#
# Sections: small = the workload shapes of selftests/bench/bench.c (time
# and peak RSS; each run after a warm-up of free memory, see warm() below,
# and large1 once more after 3 s idle without it); cg = allocator
# instructions per malloc/free pair, counted by callgrind (deterministic,
# unlike times on a shared machine), for hpalloc and mimalloc; rss = peak
# RSS over live bytes; grow = realloc doubling; tlb = random updates over
# a big table.
#
# A quick small-object comparison:
#   scripts/bench.sh -k small -a glibc,mimalloc,hpalloc -s 1 -r 3 -o /tmp/b.md
#
# The TLB section needs hugetlb pages for the raw MAP_HUGETLB baseline,
# glibc's hugetlb=2 mode and hpalloc's hugetlb backend: when run as root it
# raises vm.nr_hugepages for that section only and restores it after.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TABLE_GIB=4 GROW_MAX=8589934592 SECS=1 REPEATS=3 OUT=docs/bench.md ROUND=0
CG_OPS=200000
SECTIONS=small,cg,rss,grow,tlb
ALLOCS=(glibc glibc-thp glibc-hugetlb jemalloc mimalloc tcmalloc hpalloc)
. scripts/common.sh
usage() { sed -n '2,45s/^# \{0,1\}//p' "$0"; }
# -OPT VALUE must be a whole number of at least 1
count() { [[ $2 =~ ^[1-9][0-9]*$ ]] || opt_bad "-$1 $2: not a positive whole number"; }
while getopts :t:g:s:r:n:o:k:a:h opt; do
	case $opt in
	t) count t "$OPTARG"; TABLE_GIB=$OPTARG ;;
	g) count g "$OPTARG"; GROW_MAX=$OPTARG ;;
	s) count s "$OPTARG"; SECS=$OPTARG ;;
	r) count r "$OPTARG"; REPEATS=$OPTARG ;;
	n) count n "$OPTARG"; CG_OPS=$OPTARG ;;
	o) OUT=$OPTARG ;;
	k) SECTIONS=$OPTARG ;;
	a) IFS=, read -ra ALLOCS <<<"$OPTARG" ;;
	h) usage; exit 0 ;;
	:) opt_bad "-$OPTARG needs a value" ;;
	*) opt_bad "-$OPTARG: no such option" ;;
	esac
done
[ $OPTIND -gt $# ] || opt_bad "${!OPTIND}: unexpected argument"
for s in ${SECTIONS//,/ }; do
	[[ $s =~ ^(small|cg|rss|grow|tlb)$ ]] ||
		opt_bad "-k $SECTIONS: no section '$s' (small,cg,rss,grow,tlb)"
done
[ -n "${SECTIONS//,/}" ] || opt_bad "-k: no section given"
[ ${#ALLOCS[@]} -gt 0 ] || opt_bad "-a: no allocator given"
for a in "${ALLOCS[@]}"; do
	[[ $a =~ ^(glibc|glibc-thp|glibc-hugetlb|jemalloc|mimalloc|tcmalloc|hpalloc)$ ]] ||
		opt_bad "-a: no allocator '$a' (glibc,glibc-thp,glibc-hugetlb,jemalloc,mimalloc,tcmalloc,hpalloc)"
done
CMDLINE="scripts/bench.sh -t $TABLE_GIB -g $GROW_MAX -s $SECS -r $REPEATS -n $CG_OPS"
[ "$SECTIONS" = small,cg,rss,grow,tlb ] || CMDLINE+=" -k $SECTIONS"
[ "${#ALLOCS[@]}" = 7 ] || CMDLINE+=" -a $(IFS=,; echo "${ALLOCS[*]}")"
section() { [[ ",$SECTIONS," == *",$1,"* ]]; }

LIBDIR=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
need_pkgs libjemalloc2 libmimalloc2.0 libgoogle-perftools4 valgrind g++ >&2

make -C lib -j2 >/dev/null
mkdir -p build/bench
# -lstdc++: the sized larson shape calls C++'s operator new and delete.
gcc -O2 -g -Wall -Wextra -pthread -o build/bench/bench selftests/bench/bench.c \
	-lstdc++
BENCH=$ROOT/build/bench/bench

declare -A ENVS=(
	[glibc]=""
	[glibc-thp]="GLIBC_TUNABLES=glibc.malloc.hugetlb=1"
	[glibc-hugetlb]="GLIBC_TUNABLES=glibc.malloc.hugetlb=2"
	[jemalloc]="LD_PRELOAD=$LIBDIR/libjemalloc.so.2"
	[mimalloc]="LD_PRELOAD=$LIBDIR/libmimalloc.so.2"
	[tcmalloc]="LD_PRELOAD=$LIBDIR/libtcmalloc.so.4"
	[hpalloc]="LD_PRELOAD=$ROOT/build/lib/libhpalloc-preload.so HPALLOC_BACKEND=thp"
)
# hpalloc runs on THP pages, like the others, everywhere but in the random-
# update section, where it runs with its default backend (auto: the device
# where /dev/hpalloc is, else THP; auto never takes hugetlb pages), so that
# on a machine with the module the table shows the device's pages.
HPA_AUTO="LD_PRELOAD=$ROOT/build/lib/libhpalloc-preload.so"

RES=$(mktemp)
trap 'rm -f "$RES" "$RES.small"; restore_hugepages' EXIT

# run ALLOC KEY CMD...: every "RESULT name value unit" line is recorded
# as "ALLOC KEY.name value unit"
run() {
	local a=$1 key=$2
	shift 2
	env ${ENVS[$a]} "$@" 2>/dev/null | awk -v a="$a" -v k="$key" \
		'$1 == "RESULT" { print a, k "." $2, $3, $4 }' >>"$RES" || true
}

# once ALLOC KEY CMD...: one run's results, kept with the round ($ROUND)
once() {
	local a=$1 key=$2
	shift 2
	env ${ENVS[$a]} "$@" 2>/dev/null |
		awk -v a="$a" -v k="$key" -v r="$ROUND" \
		'$1 == "RESULT" { print a, k "." $2, $3, r }' >>"$RES.small" || true
}

OLD_HP=$(cat /proc/sys/vm/nr_hugepages)
restore_hugepages() {
	[ -w /proc/sys/vm/nr_hugepages ] &&
		echo "$OLD_HP" >/proc/sys/vm/nr_hugepages 2>/dev/null || true
}

# warm MIB: before each timed run, MIB MiB of THP memory is touched and
# given back outside any allocator (bench warm).  Where the machine is a
# guest whose host takes free memory back (free page reporting), touching
# such memory again costs a host fault per 4 KiB whatever the page size
# (about 360 MB/s on the VM of docs/bench.md); an allocator on 4 KiB pages
# mostly gets pages freed a moment ago, which the host still backs, and one
# on 2 MiB pages almost never does.  After the warm-up every allocator
# starts on memory the host backs, as on a machine without a host.  The
# large1cold rows below show the shape without it.
warm() {
	"$BENCH" warm "$1" 2>/dev/null | awk -v k="$2" \
		'$1 == "RESULT" { print "warmup", k ".touch", $3, 0 }' \
		>>"$RES.small" || true
}

# The workload shapes: key, MiB to warm up (about 1.25 times the largest
# peak RSS any allocator reached in the shape), bench arguments.
SHAPES=(
	"churn2|16|churn 2 $SECS"
	"larson2|32|larson 2 $SECS"
	"larsonsized2|16|larson-sized 2 $SECS"
	"bursts1|16|bursts 1 $SECS"
	"bursts2|16|bursts 2 $SECS"
	"rptest2|160|rptest 2 $SECS"
	"batches1|16|batches $SECS"
	"big1|128|big $SECS"
	"large1|704|large $SECS"
	"prodcon|16|prodcon $SECS"
	"mixed1|16|mixed 1 $SECS"
	"mixed2|16|mixed 2 $SECS"
)
SMALL_ALLOCS=()
for a in "${ALLOCS[@]}"; do
	case $a in glibc-thp|glibc-hugetlb) ;; *) SMALL_ALLOCS+=("$a") ;; esac
done

# turned I: the small-object allocators, their order turned by I
turned() {
	local j n=${#SMALL_ALLOCS[@]}

	for j in $(seq 0 $((n - 1))); do
		echo "${SMALL_ALLOCS[$((($1 + j) % n))]}"
	done
}

if section small; then
	# Every round runs every shape on every allocator (A B C ... A B C
	# ...); results are medians of the rounds, ratios paired by round (the
	# Python report below).  On a shared machine the host's state drifts
	# over minutes and flips from run to run (the same allocator's runs of
	# one shape differ 2-3x on the VM of docs/bench.md): with the rounds
	# outermost, each shape's runs spread over the whole section instead
	# of half a minute of it, so that all allocators sample the same host
	# states.  The allocators' order turns by one each round, so no
	# allocator always runs after the same one.
	echo "== shapes (${SECS}s each, median of $REPEATS interleaved rounds)" >&2
	: >"$RES.small"
	for i in $(seq "$REPEATS"); do
		ROUND=$i
		echo "   round $i of $REPEATS" >&2
		for sh in "${SHAPES[@]}"; do
			IFS='|' read -r key mib args <<<"$sh"
			for a in $(turned "$i"); do
				warm "$mib" "$key"
				# shellcheck disable=SC2086
				once "$a" "$key" "$BENCH" $args
			done
		done
	done
	# large1 as a program meets this machine's memory after it has been
	# idle: 3 s without the warm-up (the host has taken back what it
	# can); the touch of 512 MiB after 3 s says at what cost.
	echo "   large1cold" >&2
	for i in $(seq "$REPEATS"); do
		ROUND=$i
		sleep 3
		warm 512 cold
		for a in $(turned "$i"); do
			sleep 3
			once "$a" large1cold "$BENCH" large "$SECS"
		done
	done
	awk '{ k = $1 " " $2; v[k] = v[k] " " $3 }
	     END { for (k in v) { n = split(v[k], x, " ");
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
			if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
		m = n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
		print k, m, "median" } }' "$RES.small" >>"$RES"
else
	: >"$RES.small"
fi

# cg ALLOC KEY ARGS...: allocator instructions per malloc/free pair, from
# callgrind (everything outside the benchmark's own code and ld.so), split
# into the malloc and the free side by function name.
cg() {
	local a=$1 key=$2 dir ops f
	shift 2
	dir=$(mktemp -d)
	ops=$(valgrind --tool=callgrind --trace-children=yes \
		--callgrind-out-file="$dir/cg.%p" env ${ENVS[$a]} "$BENCH" "$@" \
		2>/dev/null | awk '$1 == "RESULT" { print $3 }')
	f=$(ls -S "$dir"/cg.* 2>/dev/null | head -n1)
	if [ -n "$ops" ] && [ -n "$f" ]; then
		callgrind_annotate --threshold=100 "$f" 2>/dev/null |
		awk -v ops="$ops" -v a="$a" -v k="$key" '
		/^ *[0-9,]+ +\([ 0-9.]+%\) +[^ ]+:/ {
			ir = $1; gsub(",", "", ir); fn = $3; sub(/^.*:/, "", fn)
			if ($3 ~ /bench\.c|\/elf\/|dl-/ || $0 ~ /ld-linux|\/bench\]/)
				next
			# demangled C++ names have spaces: "operator delete(...)"
			if (fn ~ /free|_Zdl|_Zda|cache_flush|suspect/ ||
			    $0 ~ /operator delete/) fr += ir
			else ma += ir
		}
		END { print a, k ".cg_malloc", ma / ops, "ir"
		      print a, k ".cg_free", fr / ops, "ir" }' >>"$RES"
	fi
	rm -rf "$dir"
}

CG_SHAPES=(
	"churn2|churn-ops 1 $CG_OPS"
	"larsonsized2|larson-sized-ops 1 $CG_OPS"
	"bursts1|bursts-ops 1 $CG_OPS"
	"rptest2|rptest-ops 2 $((CG_OPS / 2))"
	"batches1|batches-ops 1 $CG_OPS"
	"big1|big-ops 1 2000"
	"mixed1|mixed-ops $CG_OPS"
)
if section cg; then
	echo "== callgrind, $CG_OPS malloc/free pairs per shape" >&2
	for sh in "${CG_SHAPES[@]}"; do
		key=${sh%%|*} args=${sh#*|}
		echo "   $key" >&2
		for a in hpalloc mimalloc; do
			# shellcheck disable=SC2086
			cg "$a" "$key" $args
		done
	done
fi

if section rss; then
	echo "== memory efficiency" >&2
	for a in "${ALLOCS[@]}"; do
		run "$a" rss "$BENCH" rss
	done
fi

if section grow; then
	echo "== growth to $GROW_MAX bytes" >&2
	for a in "${ALLOCS[@]}"; do
		echo "   $a" >&2
		run "$a" grow "$BENCH" grow "$GROW_MAX"
	done
fi

UPDATES=50000000
HP_WANTED=$((TABLE_GIB * 512 + 64))
HP_NOTE="vm.nr_hugepages stayed $OLD_HP (not root): hugetlb runs may fall back"
if section tlb; then
	if [ -w /proc/sys/vm/nr_hugepages ]; then
		echo "$HP_WANTED" >/proc/sys/vm/nr_hugepages || true
		HP_NOTE="vm.nr_hugepages raised to $(cat /proc/sys/vm/nr_hugepages) (asked $HP_WANTED) for this section"
	fi
	echo "== random updates over ${TABLE_GIB} GiB ($HP_NOTE)" >&2
	ENVS[hpalloc]=$HPA_AUTO
	for a in "${ALLOCS[@]}"; do
		echo "   $a" >&2
		run "$a" tlb "$BENCH" tlb "$TABLE_GIB" "$UPDATES"
	done
	run glibc tlbraw "$BENCH" tlb-hugetlb "$TABLE_GIB" "$UPDATES"
	restore_hugepages
else
	HP_NOTE="section not run"
fi

MACHINE=$(lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket|NUMA node\(s\)|L2|L3)' |
	  sed 's/  */ /g')
KERNEL=$(uname -r)
MEM=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
THP=$(cat /sys/kernel/mm/transparent_hugepage/enabled)
NOW=$(date -u '+%Y-%m-%d %H:%M UTC')
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$RES" "$OUT" "$CMDLINE" "$NOW" "$KERNEL" "$MEM" "$THP" "$COMMIT" \
	"$HP_NOTE" "$TABLE_GIB" "$GROW_MAX" "$MACHINE" "${ALLOCS[*]}" \
	"$SECS" "$REPEATS" "$CG_OPS" "$LOAD" "$RES.small" <<'PY'
import math, statistics, sys
res, out, cmd, now, kernel, mem, thp, commit, hpnote, tgib, gmax, machine, \
    alist, secs, repeats, cgops, load, rounds = sys.argv[1:]
allocs = [a for a in alist.split() if a != "hpalloc"] + ["hpalloc"]
v = {}
for line in open(res):
    a, k, val, unit = line.split()
    v[(a, k)] = float(val)

others = allocs[:-1]

# Every timed run of the small section, by round: (alloc, key) -> {round:
# value}.  A round's runs of one shape follow each other within seconds,
# so a ratio within a round compares allocators under the same host state.
per_round = {}
for line in open(rounds):
    a, k, val, r = line.split()
    per_round.setdefault((a, k), {})[int(r)] = float(val)

def paired(a, k):
    """Median over the rounds of the other allocator's result over
    hpalloc's in the same round (its time over the other's, for ops/s)."""
    h, o = per_round.get(("hpalloc", k), {}), per_round.get((a, k), {})
    rs = [o[r] / h[r] for r in h if r in o and h[r] and o[r]]
    return statistics.median(rs) if rs else None

def g(a, k):
    return v.get((a, k))

def fmt(x, d=2):
    return "n/a" if x is None else f"{x:.{d}f}"

# The small section's runs, one line each, next to the markdown (only when
# the section ran: a run of other sections leaves an earlier file alone).
rounds_file = (out[:-3] if out.endswith(".md") else out) + "-rounds.txt"
keys = sorted({(r, k.rsplit(".", 1)[0], a)
               for (a, k), d in per_round.items() for r in d if a != "warmup"})
if keys:
    with open(rounds_file, "w") as f:
        f.write(f"# scripts/bench.sh, small section: every run. {cmd}; "
                f"{now}; commit {commit}\n"
                "# round shape allocator ops/s rss_kB\n")
        for r, k, a in keys:
            ops = per_round.get((a, k + ".ops"), {}).get(r)
            rss = per_round.get((a, k + ".rss"), {}).get(r)
            f.write(f"{r} {k} {a} {fmt(ops, 1)} {fmt(rss, 0)}\n")

L = []
L.append("## Results\n")
L.append("Generated by `scripts/bench.sh` (not part of `make check`): every "
         "allocator runs under the same binary (`selftests/bench/bench.c`) "
         "through `LD_PRELOAD`, in one run on one machine.\n")
L.append("### Run\n")
L.append(f"- command: `{cmd}`")
L.append(f"- date: {now}; commit {commit}")
L.append(f"- kernel: {kernel}; memory {mem}; THP `{thp}`")
L.append(f"- load average at the end: {load} (a shared machine: other "
         "jobs ran on the same cores)")
L.append(f"- hugetlb: {hpnote}")
L.append("- machine (lscpu):\n")
L.append("```")
L.extend(machine.splitlines())
L.append("```\n")
L.append("Ratios are hpalloc's time over the other allocator's time "
         "(< 1.00: hpalloc is faster); for RSS, hpalloc's over the other's.\n")

shapes = [
    ("churn2", "thread-local churn, 16-256 B, 2 threads"),
    ("larson2", "larson-style server, 2 threads"),
    ("larsonsized2", "larson with C++ new / sized delete, 2 threads"),
    ("bursts1", "alloc/free bursts, mixed sizes, 1 thread"),
    ("bursts2", "alloc/free bursts, mixed sizes, 2 threads"),
    ("rptest2", "random sizes, 1/4 freed by the other thread, 2 threads"),
    ("batches1", "batches of 1000 blocks, then freed, 1 thread"),
    ("big1", "repeated large blocks 256 KiB-8 MiB, 1 thread"),
    ("large1", "blocks of 5-25 MiB zeroed, 20 live, 1 thread"),
    ("prodcon", "producer/consumer, cross-thread free"),
    ("mixed1", "malloc/free 8 B-4 KiB, 1 thread"),
    ("mixed2", "malloc/free 8 B-4 KiB, 2 threads"),
]
sall = [a for a in allocs if a not in ("glibc-thp", "glibc-hugetlb")]
sothers = sall[:-1]

def geomean(xs):
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None

L.append(f"### Workload shapes: throughput (million ops/s, higher is better)\n")
L.append(f"Median of {repeats} rounds of {secs} s each; each round runs "
         "every shape on every allocator, one after the other (interleaved, "
         "the allocators' order turned by one each round), each run after "
         "a warm-up of the machine's free memory (below). "
         "An op is one malloc/free pair (for big1: one block allocated, "
         "written every 4 KiB and freed; for large1: one block allocated, "
         "zeroed with memset and freed).\n")
L.append("| workload | " + " | ".join(sall) + " |")
L.append("|---" * (len(sall) + 1) + "|")
for k, name in shapes:
    L.append(f"| {name} | " + " | ".join(
        fmt(g(a, k + '.ops') and g(a, k + '.ops') / 1e6,
            6 if k == "large1" else 3 if k == "big1" else 2)
        for a in sall) + " |")
L.append("")

def ratio_table(metric, title, inverse, pair=False):
    L.append(title + "\n")
    L.append("| shape | " + " | ".join(sothers) + " | best other |")
    L.append("|---" * (len(sothers) + 2) + "|")
    geo = {}
    for k, name in shapes:
        row, rs = [], []
        for a in sothers:
            if pair:
                r = paired(a, k + metric)
            else:
                h, o = g("hpalloc", k + metric), g(a, k + metric)
                r = (o / h if inverse else h / o) if h and o else None
            row.append(fmt(r))
            if r:
                geo.setdefault(a, []).append(r)
                rs.append(r)
        best = max(rs) if rs else None
        row.append(fmt(best))
        L.append(f"| {name} | " + " | ".join(row) + " |")
    L.append("| **geometric mean** | " + " | ".join(
        f"**{fmt(geomean(geo.get(a, [])))}**" for a in sothers) + " | |")
    L.append("")

ratio_table(".ops", "hpalloc's time over each allocator's, paired by round: "
            "the median over the rounds of hpalloc's time over the other's in "
            "the same round (< 1.00: hpalloc is faster; *best other* is the "
            "largest of the row, hpalloc's ratio to the fastest of the "
            "others). The runs of one round follow each other within "
            "seconds, so the host's state, which on a shared machine drifts "
            "and flips between modes 2-4x apart, divides out of each round's "
            "ratio; the ratio of the medians above can differ where all "
            "allocators' rounds are spread over such modes. Every run is in "
            f"`{rounds_file}`.", True, pair=True)

touch = [g("warmup", k + ".touch") for k, _ in shapes]
touch = [t for t in touch if t]
cold = g("warmup", "cold.touch")
L.append("#### Warm-up, and large1 without it\n")
L.append("Before each run above, `bench warm` touched about 1.25 times the "
         "shape's largest peak RSS of fresh THP memory outside any allocator "
         "and gave it back (see `scripts/bench.sh`): on a guest whose host "
         "takes free memory back, touching it again costs a host fault per "
         "4 KiB whatever the page size, and an allocator on 4 KiB pages mostly "
         "gets pages freed a moment ago, which the host still backs, while "
         "one on 2 MiB pages almost never does. The warm-up's touch ran at " +
         (f"{min(touch):.0f}-{max(touch):.0f} MB/s (medians per shape)"
          if touch else "n/a") + "; after 3 s idle, 512 MiB touched at " +
         (f"{cold:.0f} MB/s" if cold else "n/a") + ". The same large1 run "
         "after 3 s idle and without the warm-up, as a program meets this "
         "machine's memory (not in the means above):\n")
L.append("| allocator | blocks/s | peak RSS (MiB) | hpalloc time ratio |")
L.append("|---|---|---|---|")
h = g("hpalloc", "large1cold.ops")
for a in sall:
    o = g(a, "large1cold.ops")
    r = g(a, "large1cold.rss")
    L.append(f"| {a} | {fmt(o, 0)} | {fmt(r and r / 1024, 1)} | "
             f"{fmt(o / h if h and o else None)} |")
L.append("")

L.append("### Workload shapes: peak RSS (MiB, lower is better)\n")
L.append("| workload | " + " | ".join(sall) + " |")
L.append("|---" * (len(sall) + 1) + "|")
for k, name in shapes:
    L.append(f"| {name} | " + " | ".join(
        fmt(g(a, k + '.rss') and g(a, k + '.rss') / 1024, 1) for a in sall) + " |")
L.append("")
ratio_table(".rss", "hpalloc's peak RSS over each allocator's (*best other*: "
            "over the smallest):", False)

L.append("### Instructions per malloc/free pair (callgrind)\n")
L.append(f"Allocator instructions (everything outside the benchmark's own code "
         f"and the dynamic loader, C++ operator wrappers included) per "
         f"malloc/free pair, {cgops} pairs per shape (rptest: 2 threads, half "
         f"as many each; big1: 2000 blocks), one thread otherwise. Counts do "
         f"not depend on the machine's load.\n")
L.append("| shape | hpalloc malloc | hpalloc free | hpalloc total | "
         "mimalloc malloc | mimalloc free | mimalloc total | ratio |")
L.append("|---|---|---|---|---|---|---|---|")
for k, name in shapes:
    hm, hf = g("hpalloc", k + ".cg_malloc"), g("hpalloc", k + ".cg_free")
    mm, mf = g("mimalloc", k + ".cg_malloc"), g("mimalloc", k + ".cg_free")
    if hm is None and mm is None:
        continue
    ht = hm + hf if hm is not None else None
    mt = mm + mf if mm is not None else None
    L.append(f"| {name} | {fmt(hm, 1)} | {fmt(hf, 1)} | {fmt(ht, 1)} | "
             f"{fmt(mm, 1)} | {fmt(mf, 1)} | {fmt(mt, 1)} | "
             f"{fmt(ht / mt if ht and mt else None)} |")
L.append("")

L.append(f"### Random 8-byte updates over a {tgib} GiB table\n")
L.append("| allocator | fill (s) | ns/update | hpalloc time ratio |")
L.append("|---|---|---|---|")
h = g("hpalloc", "tlb.update")
rows = [(a, a) for a in allocs] + [("glibc", "raw MAP_HUGETLB mmap", "tlbraw")]
for r in rows:
    a, name = r[0], r[1]
    key = r[2] if len(r) > 2 else "tlb"
    u = g(a, key + ".update")
    L.append(f"| {name} | {fmt(g(a, key + '.fill'))} | {fmt(u)} | "
             f"{fmt(h / u if h and u else None)} |")
L.append("")

L.append(f"### Growth by realloc doubling, 2 MiB to {int(gmax) >> 20} MiB\n")
L.append("| allocator | time in realloc (s) | total (s) | peak RSS / final size |"
         " hpalloc realloc-time ratio |")
L.append("|---|---|---|---|---|")
h = g("hpalloc", "grow.realloc")
for a in allocs:
    t = g(a, "grow.realloc")
    L.append(f"| {a} | {fmt(t, 3)} | {fmt(g(a, 'grow.total'), 3)} | "
             f"{fmt(g(a, 'grow.peak_rss_over_final'), 4)} | "
             f"{fmt(h / t if h is not None and t else None, 4)} |")
L.append("")

L.append("### Memory efficiency: peak RSS / peak live bytes (mixed sizes)\n")
L.append("| allocator | RSS / live | hpalloc ratio |")
L.append("|---|---|---|")
h = g("hpalloc", "rss.rss_over_live")
for a in allocs:
    x = g(a, "rss.rss_over_live")
    L.append(f"| {a} | {fmt(x, 3)} | {fmt(h / x if h and x else None, 3)} |")
L.append("")
text = "\n".join(L) + "\n"
print(text)
# The output replaces what lies between the two markers of an existing
# file: what comes before the first and from the second on is kept
# (hand-written text).  A file with no markers is replaced as a whole.
marker = "<!-- results -->"
end = "<!-- end of results -->"
try:
    old = open(out).read()
except FileNotFoundError:
    old = ""
if marker in old:
    head, rest = old.split(marker, 1)
    tail = rest[rest.index(end):] if end in rest else end + "\n"
    text = head + marker + "\n\n" + text + "\n" + tail
open(out, "w").write(text)
PY
echo "results written to $OUT" >&2
