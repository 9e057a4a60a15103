# SPDX-License-Identifier: GPL-2.0
#
# make            build the module (for the running kernel, or KDIR), the
#                 libraries, the tools, the tests
# make lib        just the libraries and tools (no kernel sources needed)
# make module     just the module; refuses a kernel other than the running
#                 one unless KDIR= names it
# make check      every test: host library tests, then the module selftests
#                 in qemu guests booting Debian's 6.1 and 6.12 kernels
# make demo       build, boot a guest, load the module, show what it does
#
# The scripts install what they need (apt-get) when it is missing.

# The running kernel's build dir if present, else the newest Debian headers
# (which `make module` then refuses unless KDIR was given: a module built for
# another kernel does not load into this one).
RUNNING := $(shell uname -r)
KDIR_GIVEN := $(filter command line environment,$(origin KDIR))
KDIR_RUNNING := $(wildcard /lib/modules/$(RUNNING)/build)
KDIR ?= $(firstword $(KDIR_RUNNING) \
	$(shell ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n1))
KERNELS ?= 6.1 6.12

BUILD := $(CURDIR)/build

.PHONY: all module module-skipped lib lib-tests selftests ksft check \
	check-host check-guest check-debug check-fuzz-long demo checkpatch \
	sparse bench clean help

# Without headers for the running kernel (and no KDIR=) `make` builds the
# rest and says why the module is not among it.
all: $(if $(KDIR_GIVEN)$(KDIR_RUNNING),module,module-skipped) lib lib-tests \
	selftests

help:
	@sed -n '3,13s/^# \{0,1\}//p' Makefile

module-skipped:
	@echo "hpalloc.ko not built: no headers for the running kernel" \
		"$(RUNNING) (install linux-headers-$(RUNNING), or pass" \
		"KDIR=<headers> to build it for another kernel)"

module:
	@test -n "$(KDIR)" -a -d "$(KDIR)" || { echo "no kernel headers:" \
		"run scripts/deps.sh or pass KDIR=" >&2; exit 1; }
	@rel=$$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$$/\1/p' \
		"$(KDIR)/include/generated/utsrelease.h" 2>/dev/null); \
	if [ -z "$$rel" ]; then \
		echo "$(KDIR) is not a prepared kernel build tree" \
			"(no UTS_RELEASE in include/generated/utsrelease.h)" \
			>&2; exit 1; \
	fi; \
	if [ "$$rel" != "$(RUNNING)" ] && [ -z "$(KDIR_GIVEN)" ]; then \
		echo "no headers for the running kernel $(RUNNING); refusing" \
			"to build hpalloc.ko for $$rel instead. Install" \
			"linux-headers-$(RUNNING), or pass KDIR=$(KDIR) to" \
			"build for $$rel on purpose" >&2; exit 1; \
	fi; \
	echo "building hpalloc.ko for Linux $$rel ($(KDIR))"
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

# Libraries and tools only: no kernel sources, no test binaries.
lib:
	$(MAKE) -C lib libs

# The library's test binaries (the kselftest harness comes from the kernel
# sources).
lib-tests: ksft
	$(MAKE) -C lib

ksft: $(BUILD)/ksft/kselftest_harness.h

$(BUILD)/ksft/kselftest_harness.h:
	scripts/ksft-headers.sh

selftests: ksft
	$(MAKE) -C selftests

check:
	scripts/check.sh

check-host: ksft
	$(MAKE) --no-print-directory -C lib check

check-guest: selftests lib-tests
	scripts/vm-run.sh $(addprefix -k ,$(KERNELS))

# The guest suite once more with the kernel's debug checks (boot parameters:
# slub_debug, page_poison, init_on_free, debug_pagealloc); slower.
check-debug: selftests lib-tests
	scripts/vm-run.sh --debug --timeout 2400 $(addprefix -k ,$(KERNELS))

# The sequence fuzzer alone, ten times longer than in make check.
FUZZ_OPS ?= 1000000
check-fuzz-long: selftests
	scripts/vm-run.sh --timeout 3600 -t fuzz --fuzz HPA_FUZZ_OPS=$(FUZZ_OPS) \
		$(addprefix --fuzz HPA_FUZZ_SEED=,$(FUZZ_SEED)) $(addprefix -k ,$(KERNELS))

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
