#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Make a man page from man/NAME.in: each line
#   .\" @TABLE docs/FILE.md TEXT
# becomes the first Markdown table after the first line of that file that
# contains TEXT, as .TP items (first column the tag, the others its
# paragraphs; from the third column on, prefixed with the column's header).
# The option, parameter and error tables of the man pages are thus the ones
# in docs/, and cannot disagree with them.
#   scripts/man-gen.sh man/hpalloc.4.in build/man/hpalloc.4
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
in=$1 out=$2

# Markdown inline text -> roff: `code` and **strong** bold, [text](url)
# text, \| a pipe, a backslash or a line-leading dot escaped.
md2roff='
function inline(s,   out, i, c, code) {
	gsub(/\\/, "\\e", s)
	gsub(/\[[^]]*\]\([^)]*\)/, "&", s)
	while (match(s, /\[[^]]*\]\([^)]*\)/)) {
		t = substr(s, RSTART + 1, RLENGTH - 2); sub(/\]\(.*/, "", t)
		s = substr(s, 1, RSTART - 1) t substr(s, RSTART + RLENGTH)
	}
	gsub(/\*\*/, "`", s)	# strong: shown bold like code
	out = ""; code = 0
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "`") { out = out (code ? "\\fR" : "\\fB"); code = !code; continue }
		if (c == "-" && code) c = "\\-"
		out = out c
	}
	if (code) out = out "\\fR"
	sub(/^[.\x27]/, "\\\\\\&&", out)
	return out
}
function cells(line, arr,   n, i) {
	gsub(/\\e\|/, "\001", line)
	sub(/^[ \t]*\|/, "", line); sub(/\|[ \t]*$/, "", line)
	n = split(line, arr, "|")
	for (i = 1; i <= n; i++) {
		gsub(/\001/, "|", arr[i])
		gsub(/^[ \t]+|[ \t]+$/, "", arr[i])
	}
	return n
}
'

table() {	# table FILE TEXT
	awk -v want="$2" "$md2roff"'
	BEGIN { state = 0 }
	state == 0 && index($0, want) { state = 1; next }
	state == 1 && /^\|/ { state = 2; nh = cells(inline($0), head); next }
	state == 2 && /^\|[ -:|]+\|$/ { state = 3; next }
	state == 3 && /^\|/ {
		n = cells(inline($0), c)
		print ".TP"
		print c[1]
		for (i = 2; i <= n; i++) {
			if (c[i] == "") continue
			if (i > 2) print ".br"
			print (i > 2 ? head[i] ": " : "") c[i]
		}
		next
	}
	state == 3 { exit }
	END { if (state < 3) { print "man-gen: no table after \"" want "\"" > "/dev/stderr"; exit 1 } }
	' "$root/$1"
}

mkdir -p "$(dirname "$out")"
tmp=$out.tmp
: >"$tmp"
while IFS= read -r line; do
	case "$line" in
	'.\" @TABLE '*)
		# shellcheck disable=SC2086 # split into FILE and TEXT words
		set -- ${line#.\\\" @TABLE }
		f=$1
		shift
		table "$f" "$*" >>"$tmp"
		;;
	*) printf '%s\n' "$line" >>"$tmp" ;;
	esac
done <"$in"
mv "$tmp" "$out"
