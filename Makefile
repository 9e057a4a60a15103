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
# make install    library, headers, hpalloc.pc, hpallocctl, systemd unit,
#                 man pages (PREFIX=/usr/local DESTDIR= LIBDIR=...)
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
	sparse bench clean help install uninstall check-install man check-man \
	check-deb examples

# Without headers for the running kernel (and no KDIR=) `make` builds the
# rest and says why the module is not among it.
all: $(if $(KDIR_GIVEN)$(KDIR_RUNNING),module,module-skipped) lib lib-tests \
	selftests

help:
	@sed -n '3,15s/^# \{0,1\}//p' Makefile

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

# The DPDK heap example and its guest test (needs libdpdk-dev).
examples: lib
	$(MAKE) -C examples/dpdk

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

# ---- install ---------------------------------------------------------
# Debian's layout with PREFIX=/usr (the packages use that); /usr/local and
# /etc for udev/systemd otherwise.  The preload library is not linked
# against, so it lives in LIBDIR/hpalloc/ (no soname needed there).  The udev rule that restricts the device
# to a group is installed as an example, not active (see README).
PREFIX     ?= /usr/local
MULTIARCH  := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || \
		$(CC) -print-multiarch 2>/dev/null)
LIBDIR     ?= $(PREFIX)/lib$(if $(MULTIARCH),/$(MULTIARCH))
INCLUDEDIR ?= $(PREFIX)/include
SBINDIR    ?= $(PREFIX)/sbin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,/etc/systemd/system)
LB         := $(BUILD)/lib
# Man pages: man/*.in with their tables taken from docs/ (scripts/man-gen.sh).
MANPAGES   := $(patsubst man/%.in,$(BUILD)/man/%,$(wildcard man/*.in))
INSTALLED  := $(LIBDIR)/libhpalloc-user.so.1.0.0 $(LIBDIR)/libhpalloc-user.so.1 \
	$(LIBDIR)/libhpalloc-user.so $(LIBDIR)/libhpalloc-user.a \
	$(LIBDIR)/hpalloc/libhpalloc-preload.so $(LIBDIR)/pkgconfig/hpalloc.pc \
	$(INCLUDEDIR)/hpalloc.h $(INCLUDEDIR)/hpalloc/linux/hpalloc.h \
	$(SBINDIR)/hpallocctl $(UNITDIR)/hpalloc.service \
	$(DATADIR)/hpalloc/60-hpalloc.rules $(DATADIR)/hpalloc/hpalloc.conf \
	$(DATADIR)/hpalloc/cdi.yaml \
	$(DATADIR)/bash-completion/completions/hpallocctl \
	$(foreach m,$(MANPAGES),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))

man: $(MANPAGES)
$(BUILD)/man/%: man/%.in scripts/man-gen.sh docs/device.md docs/library.md docs/hpallocctl.md
	scripts/man-gen.sh $< $@

check-man: man
	$(MAKE) -s -C lib $(LB)/hpallocctl
	scripts/man-check.sh $(MANPAGES)

install: man
	$(MAKE) -C lib $(LB)/libhpalloc-user.so.1.0.0 $(LB)/libhpalloc-user.a \
		$(LB)/libhpalloc-preload.so $(LB)/inst/hpallocctl $(LB)/.syms-ok
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(LIBDIR)/hpalloc \
		$(DESTDIR)$(INCLUDEDIR)/hpalloc/linux \
		$(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DATADIR)/hpalloc \
		$(DESTDIR)$(SYSCONFDIR)/modprobe.d $(DESTDIR)$(SYSCONFDIR)/cdi
	install -m 0644 $(LB)/libhpalloc-user.so.1.0.0 $(LB)/libhpalloc-user.a \
		$(DESTDIR)$(LIBDIR)/
	install -m 0644 $(LB)/libhpalloc-preload.so $(DESTDIR)$(LIBDIR)/hpalloc/
	ln -sf libhpalloc-user.so.1.0.0 $(DESTDIR)$(LIBDIR)/libhpalloc-user.so.1
	ln -sf libhpalloc-user.so.1 $(DESTDIR)$(LIBDIR)/libhpalloc-user.so
	sed -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' hpalloc.pc.in \
		>$(DESTDIR)$(LIBDIR)/pkgconfig/hpalloc.pc
	install -m 0644 include/hpalloc.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 0644 include/uapi/linux/hpalloc.h $(DESTDIR)$(INCLUDEDIR)/hpalloc/linux/
	install -m 0755 $(LB)/inst/hpallocctl $(DESTDIR)$(SBINDIR)/
	sed 's|@SBINDIR@|$(SBINDIR)|' scripts/hpalloc.service \
		>$(DESTDIR)$(UNITDIR)/hpalloc.service
	install -m 0644 scripts/60-hpalloc.rules $(DESTDIR)$(DATADIR)/hpalloc/
	install -d $(DESTDIR)$(DATADIR)/bash-completion/completions
	install -m 0644 scripts/hpallocctl.bash-completion \
		$(DESTDIR)$(DATADIR)/bash-completion/completions/hpallocctl
	install -m 0644 scripts/hpalloc-modprobe.conf $(DESTDIR)$(DATADIR)/hpalloc/hpalloc.conf
	test -e $(DESTDIR)$(SYSCONFDIR)/modprobe.d/hpalloc.conf || \
		install -m 0644 scripts/hpalloc-modprobe.conf \
		$(DESTDIR)$(SYSCONFDIR)/modprobe.d/hpalloc.conf
	install -m 0644 scripts/hpalloc-cdi.yaml $(DESTDIR)$(DATADIR)/hpalloc/cdi.yaml
	test -e $(DESTDIR)$(SYSCONFDIR)/cdi/hpalloc.yaml || \
		install -m 0644 scripts/hpalloc-cdi.yaml \
		$(DESTDIR)$(SYSCONFDIR)/cdi/hpalloc.yaml
	for m in $(MANPAGES); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s && \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; \
	done

# An /etc/modprobe.d/hpalloc.conf that differs from the shipped one holds
# the administrator's pools: it stays.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-cmp -s scripts/hpalloc-modprobe.conf $(DESTDIR)$(SYSCONFDIR)/modprobe.d/hpalloc.conf && \
		rm -f $(DESTDIR)$(SYSCONFDIR)/modprobe.d/hpalloc.conf
	-cmp -s scripts/hpalloc-cdi.yaml $(DESTDIR)$(SYSCONFDIR)/cdi/hpalloc.yaml && \
		rm -f $(DESTDIR)$(SYSCONFDIR)/cdi/hpalloc.yaml
	-rmdir $(DESTDIR)$(INCLUDEDIR)/hpalloc/linux $(DESTDIR)$(INCLUDEDIR)/hpalloc \
		$(DESTDIR)$(LIBDIR)/hpalloc $(DESTDIR)$(DATADIR)/bash-completion/completions \
		$(DESTDIR)$(DATADIR)/bash-completion \
		$(DESTDIR)$(DATADIR)/hpalloc 2>/dev/null

check-install:
	scripts/install-test.sh

# Builds, lints, installs and purges the Debian packages (root: dpkg -i).
check-deb:
	scripts/deb-test.sh

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null
	-$(MAKE) -C lib clean
	-$(MAKE) -C selftests clean
	rm -rf $(BUILD)
