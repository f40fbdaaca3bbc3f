# SPDX-License-Identifier: GPL-2.0
#
# dm-cbw top-level Makefile.
#
#   make                  dm-cbw.ko for the default test kernel (6.1) + cbwctl
#   make KVER=6.12        the module for the bookworm-backports 6.12 kernel
#   make KVER=5.10        the module for the bullseye 5.10 kernel
#   make KVER=7.2         the module for sid's 7.2 kernel, built in a sid
#                         build root under $(CBW_CACHE) (made on first use)
#   make KDIR=/lib/modules/$(uname -r)/build   the module for this machine
#   make demo             the fleecing demo in a VM
#   make bench            the benchmark in a VM (KVER=6.12 for that kernel;
#                         results in build/bench/KVER; see scripts/bench)
#   make install          cbwctl, its man page and udev rules, and libcbw
#                         (library, libcbw.h, libcbw.pc) (PREFIX, default
#                         /usr/local, and DESTDIR; see dmtools/Makefile)
#   make uninstall
#   make deb              the Debian packages dm-cbw-dkms (module source for
#                         DKMS) and cbwctl into build/deb/, lintian-checked
#                         (scripts/deb; the version is debian/changelog's)
#   make dkms-check       the dm-cbw-dkms package built and installed by DKMS
#                         for 5.10, 6.1, 6.12 and 7.2, then smoke selftests
#                         in VMs on the DKMS-installed module (scripts/dkms-check;
#                         CBW_DKMS_KERNELS="6.1" to choose)
#   make check            unit tests, lint, the selftests in VMs on 6.1, 6.12,
#                         5.10 and 7.2 (scripts/check: CBW_CHECK_SMOKE, ...)
#   make fuzz             the fuzzing selftest alone in a VM, 10,000 cases
#                         (KVER=6.12, FUZZ_CASES=N, FUZZ_SEED=S; scripts/fuzz)
#   make debug-kernel     build the debug kernel (KASAN, lockdep, kmemleak,
#                         fault injection; long) into $(CBW_CACHE)
#   make check-debug      the selftests in two VMs on the debug kernel
#   make KVER=debug       the module for the debug kernel
#   make sparse           the module through sparse (C=2)
#   make lint             checkpatch, W=1 and sparse on 5.10, 6.1, 6.12, 7.2
#   make clean

KVER ?= 6.1
CBW_CACHE ?= /var/cache/dm-cbw
export CBW_CACHE

ifeq ($(origin KDIR),undefined)
ifeq ($(KVER),debug)
KREL := $(shell scripts/debug-kernel --print-release 2>/dev/null)
KDIR := $(CBW_CACHE)/kernels/debug/build
KREL_HINT := ; make debug-kernel first
else
KREL := $(shell scripts/deps --quiet --print-release $(KVER))
# Headers unpacked into the cache (5.10), else installed ones (6.1, 6.12).
ifneq ($(wildcard $(CBW_CACHE)/kernels/$(KVER)/build/Makefile),)
KDIR := $(CBW_CACHE)/kernels/$(KVER)/build
else
KDIR := /usr/src/linux-headers-$(KREL)
endif
endif
DEPS := deps
else
KREL := $(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null)
DEPS :=
endif

BUILD ?= $(CURDIR)/build/$(KREL)
MODSRC := $(wildcard module/*.c module/*.h) module/Kbuild
KBUILD_ARGS := -C $(KDIR) M=$(BUILD) W=1

# A kernel whose headers live in a build root (sid's 7.2: its compiler and
# C library are newer than the host's) is built inside that root.
BUILDROOT := $(CBW_CACHE)/kernels/$(KVER)/buildroot
ifneq ($(and $(KREL),$(wildcard $(BUILDROOT)/usr/src/linux-headers-$(KREL)/Makefile)),)
KRUN = scripts/in-root $(BUILDROOT) --bind $(CURDIR) --bind $(BUILD) --
endif

.PHONY: all deps module cbwctl sparse lint demo bench check unit clean \
	debug-kernel check-debug install uninstall fuzz deb dkms-check

all: module cbwctl

deps:
	@scripts/deps --quiet --kernel $(KVER)

# The module is built in a per-kernel tree of links to module/, so builds for
# several kernels live side by side and the source folder stays clean.
module: $(DEPS)
	@test -n "$(KREL)" || { echo "no kernel release for KDIR=$(KDIR)$(KREL_HINT)" >&2; exit 1; }
	@mkdir -p $(BUILD)/module
	@ln -sf $(CURDIR)/Kbuild $(BUILD)/Kbuild
	@ln -sf $(addprefix $(CURDIR)/,$(MODSRC)) $(BUILD)/module/
	@$(KRUN) scripts/compat-probe $(KDIR) $(BUILD)/module/compat-gen.h
	@$(KRUN) $(MAKE) -s $(KBUILD_ARGS) modules
	@echo "  built $(BUILD)/module/dm-cbw.ko"

sparse: module
	@$(KRUN) $(MAKE) -s $(KBUILD_ARGS) C=2 CHECK=sparse modules

lint: deps
	@scripts/lint

cbwctl: $(DEPS)
	@$(MAKE) -s -C dmtools

# Only cbwctl and libcbw are installed: the module is built for test
# kernels here (see README.md for loading it).
install:
	@$(MAKE) -s -C dmtools install

uninstall:
	@$(MAKE) -s -C dmtools uninstall

unit:
	@fail=0; $(MAKE) -s -C dmtools check || fail=1; \
	$(MAKE) -s -C tests/bitmap check || fail=1; \
	$(MAKE) -s -C tests/map check || fail=1; \
	$(MAKE) -s -C tests/pages check || fail=1; \
	bash tests/selftests/test_run.sh || fail=1; exit $$fail

deb:
	@scripts/deb

dkms-check: deps cbwctl
	@scripts/dkms-check

demo: deps cbwctl
	@scripts/demo

check: deps cbwctl
	@scripts/check

bench: deps cbwctl
	@scripts/bench --kernel $(KVER)

FUZZ_CASES ?= 10000
fuzz: deps cbwctl
	@scripts/fuzz --kernel $(KVER) --cases $(FUZZ_CASES) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

debug-kernel:
	@scripts/debug-kernel

# The selftests only (no unit tests, no lint) on the debug kernel, which is
# built first if missing (that takes long).  scripts/vm marks the bitmap
# caches for failslab at boot (test_fault_01).
check-debug: deps cbwctl
	@scripts/debug-kernel --quiet
	@$(MAKE) -s module KVER=debug
	@CBW_CHECK_KERNELS=debug CBW_CHECK_PARTS=selftests scripts/check

clean:
	rm -rf build
	@$(MAKE) -s -C dmtools clean
