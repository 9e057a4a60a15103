#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks scripts/hpalloc-cdi.yaml against the rules of the CDI
specification (github.com/cncf-tags/container-device-interface, SPEC.md)
that a runtime enforces when it loads a spec: a known cdiVersion, a
vendor/class kind, device names of the allowed characters, device nodes
with absolute paths and valid permissions.  Also hpalloc's own: the kind
is hpalloc.io/device, the node is /dev/hpalloc, no hard-coded major or
minor (the misc minor is dynamic).  KTAP output; exit 1 on any failure."""
import os
import re
import sys

try:
    import yaml
except ImportError:
    print("1..0 # SKIP python3-yaml is not installed (scripts/deps.sh)")
    sys.exit(0)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = sys.argv[1] if len(sys.argv) > 1 else \
    os.path.join(ROOT, "scripts", "hpalloc-cdi.yaml")
VERSIONS = {"0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0"}
VENDOR = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]$")
CLASS = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*[a-zA-Z0-9]$")
NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.:-]*[a-zA-Z0-9]$|^[a-zA-Z0-9]$")

results = []


def check(ok, what):
    results.append((bool(ok), what))


with open(SPEC, encoding="utf-8") as f:
    spec = yaml.safe_load(f)

check(isinstance(spec, dict), "the spec is a mapping")
spec = spec if isinstance(spec, dict) else {}
check(spec.get("cdiVersion") in VERSIONS,
      "cdiVersion %r is a released CDI version" % spec.get("cdiVersion"))
kind = spec.get("kind", "")
vendor, _, cls = kind.partition("/")
check(VENDOR.match(vendor) and CLASS.match(cls), "kind %r is vendor/class" % kind)
check(kind == "hpalloc.io/device", "kind is hpalloc.io/device")
devices = spec.get("devices") or []
check(len(devices) >= 1, "at least one device")
names = [d.get("name", "") for d in devices]
check(all(NAME.match(n) for n in names), "device names %r are valid" % names)
check(len(set(names)) == len(names), "device names are unique")
check("hpalloc" in names, "a device named hpalloc")
nodes = []
for d in devices:
    edits = d.get("containerEdits") or {}
    check(edits, "device %s has containerEdits" % d.get("name"))
    nodes += edits.get("deviceNodes") or []
check(nodes, "device nodes are given")
for n in nodes:
    path = n.get("path", "")
    check(path == "/dev/hpalloc", "node path %r is /dev/hpalloc" % path)
    check(set(n.get("permissions", "rw")) <= set("rwm"),
          "node permissions %r are of r, w, m" % n.get("permissions"))
    check("major" not in n and "minor" not in n,
          "no hard-coded major/minor (the misc minor is dynamic)")
    check(n.get("type", "c") == "c", "a character device")
known = {"cdiVersion", "kind", "devices", "containerEdits", "annotations"}
check(set(spec) <= known, "no unknown top-level keys: %s" % sorted(set(spec) - known))

print("TAP version 13")
print("1..%d" % len(results))
fail = 0
for i, (ok, what) in enumerate(results, 1):
    print("%s %d %s" % ("ok" if ok else "not ok", i, what))
    fail += not ok
print("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0"
      % (len(results) - fail, fail))
sys.exit(1 if fail else 0)
