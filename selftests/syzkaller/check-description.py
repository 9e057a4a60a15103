#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check selftests/syzkaller/dev_hpalloc.txt against the uapi header.

syzkaller itself cannot run here, so this keeps its description honest the
way syz-extract would complain: every struct of the header is described
with the same fields in the same order and of the same width, every
HPALLOC_IOC_* command has an ioctl$ line with the right argument struct and
direction, every HPALLOC_*_VALID flag bit is offered, and the file's own
syntax is balanced.  Exit status 1 with a message per problem.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEADER = ROOT / "include/uapi/linux/hpalloc.h"
DESC = Path(__file__).resolve().parent / "dev_hpalloc.txt"

WIDTH = {"__u8": 8, "__u16": 16, "__u32": 32, "__s32": 32, "__u64": 64,
         "__s64": 64}


def header_structs(text):
    structs = {}
    for m in re.finditer(r"struct (hpalloc_\w+) \{(.*?)\};", text, re.S):
        fields = []
        for line in m.group(2).splitlines():
            f = re.match(r"\s*(__[us]\d+)\s+(\w+)(\[(\d+)\])?;", line)
            if f:
                fields.append((f.group(2), WIDTH[f.group(1)],
                               int(f.group(4) or 1)))
        structs[m.group(1)] = fields
    return structs


def desc_width(typ):
    """Width in bits of a syzkaller field type, and its array length."""
    arr = re.match(r"array\[(\w+), (\d+)\]", typ)
    if arr:
        return desc_width(arr.group(1))[0], int(arr.group(2))
    for pat, w in ((r"int(8|16|32|64)", None), (r"ptr64", 64),
                   (r"hpalloc_handle", 64), (r"fd(_\w+)?$", 32)):
        m = re.match(pat, typ)
        if m:
            return (int(m.group(1)) if w is None else w), 1
    m = re.search(r", int(8|16|32|64)\]$", typ)   # const[.., intN], flags
    if m:
        return int(m.group(1)), 1
    m = re.match(r"len\[\w+, int(8|16|32|64)\]", typ)
    if m:
        return int(m.group(1)), 1
    return None, 1


def desc_structs(text):
    structs = {}
    for m in re.finditer(r"^(hpalloc_\w+) \{\n(.*?)^\}", text, re.S | re.M):
        fields = []
        for line in m.group(2).splitlines():
            parts = line.split("\t")
            parts = [p for p in parts if p]
            if len(parts) >= 2:
                fields.append((parts[0].strip(),) + desc_width(parts[1]))
        structs[m.group(1)] = fields
    return structs


def main():
    hdr = HEADER.read_text()
    desc = DESC.read_text()
    problems = []

    if desc.count("[") != desc.count("]") or \
            desc.count("(") != desc.count(")") or \
            desc.count("{") != desc.count("}"):
        problems.append("unbalanced brackets in the description")

    hs, ds = header_structs(hdr), desc_structs(desc)
    for name, fields in hs.items():
        if name not in ds:
            problems.append(f"struct {name} is not described")
            continue
        if fields != ds[name]:
            problems.append(f"struct {name}: header {fields}, "
                            f"description {ds[name]}")
    for name in ds:
        if name not in hs and name != "hpalloc_handle":
            problems.append(f"{name} is described but not in the header")

    dirs = {"_IOWR": "inout", "_IOW": "in", "_IOR": "out"}
    for m in re.finditer(r"#define (HPALLOC_IOC_\w+)\s+(?:\\\n\s*)?(_IOW?R?)\("
                         r"HPALLOC_IOC_MAGIC, \w+, struct (\w+)\)", hdr):
        cmd, mac, st = m.groups()
        want = (f"ioctl${cmd}(fd fd_hpalloc, cmd const[{cmd}], "
                f"arg ptr[{dirs[mac]}, {st}])")
        if want not in desc:
            problems.append(f"no line '{want}'")

    for m in re.finditer(r"#define (HPALLOC_\w+)_VALID\s+\((.*?)\)", hdr):
        for bit in re.findall(r"HPALLOC_\w+", m.group(2)):
            if bit not in desc:
                problems.append(f"{bit} ({m.group(1)}_VALID) not offered")

    for p in problems:
        print(f"dev_hpalloc.txt: {p}", file=sys.stderr)
    print(f"syzkaller description: {len(hs)} structs, "
          f"{len(re.findall('ioctl[$]', desc))} ioctls checked, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
