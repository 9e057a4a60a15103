# SPDX-License-Identifier: GPL-2.0
#
# make            build the module (against KDIR), the library, the selftests
# make check      every test: host library tests, then the module selftests
#                 in qemu guests booting Debian's 6.1 and 6.12 kernels
# make demo       build, boot a guest, load the module, show what it does
# make KDIR=...   build the module against other kernel headers
#
# The scripts install what they need (apt-get) when it is missing.

# The running kernel's build dir if present, else the newest Debian headers.
KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
	$(shell ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n1))
KERNELS ?= 6.1 6.12

BUILD := $(CURDIR)/build

.PHONY: all module lib selftests ksft check check-host check-guest demo \
	checkpatch sparse bench clean help examples

all: module lib selftests

help:
	@sed -n '3,10s/^# \{0,1\}//p' Makefile

module:
	@test -n "$(KDIR)" -a -d "$(KDIR)" || { echo "no kernel headers:" \
		"run scripts/deps.sh or pass KDIR=" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

lib: ksft
	$(MAKE) -C lib

ksft: $(BUILD)/ksft/kselftest_harness.h

$(BUILD)/ksft/kselftest_harness.h:
	scripts/ksft-headers.sh

selftests: ksft
	$(MAKE) -C selftests

# The DPDK heap example and its guest test (needs libdpdk-dev).
examples: lib
	$(MAKE) -C examples/dpdk

check:
	scripts/check.sh

check-host: ksft
	$(MAKE) --no-print-directory -C lib check

check-guest: selftests lib
	scripts/vm-run.sh $(addprefix -k ,$(KERNELS))

demo:
	scripts/demo.sh

checkpatch: ksft
	scripts/checkpatch.sh

sparse:
	scripts/sparse.sh

bench:
	scripts/bench.sh

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null
	-$(MAKE) -C lib clean
	-$(MAKE) -C selftests clean
	rm -rf $(BUILD)
