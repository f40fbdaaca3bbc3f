# SPDX-License-Identifier: GPL-2.0
#
# dm-cbw top-level Makefile.
#
#   make                  dm-cbw.ko for the default test kernel (6.1) + cbwctl
#   make KVER=6.12        the module for the bookworm-backports 6.12 kernel
#   make KDIR=/lib/modules/$(uname -r)/build   the module for this machine
#   make demo             the fleecing demo in a VM
#   make check            unit tests + the selftests in VMs on 6.1 and 6.12
#   make sparse           the module through sparse (C=2)
#   make lint             checkpatch, W=1 and sparse on both test kernels
#   make clean

KVER ?= 6.1
CBW_CACHE ?= /var/cache/dm-cbw
export CBW_CACHE

ifeq ($(origin KDIR),undefined)
KREL := $(shell scripts/deps --quiet --print-release $(KVER))
KDIR := /usr/src/linux-headers-$(KREL)
DEPS := deps
else
KREL := $(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null)
DEPS :=
endif

BUILD ?= $(CURDIR)/build/$(KREL)
MODSRC := $(wildcard module/*.c module/*.h) module/Kbuild
KBUILD_ARGS := -C $(KDIR) M=$(BUILD) W=1

.PHONY: all deps module cbwctl sparse lint demo check unit clean

all: module cbwctl

deps:
	@scripts/deps --quiet

# The module is built in a per-kernel tree of links to module/, so builds for
# several kernels live side by side and the source folder stays clean.
module: $(DEPS)
	@test -n "$(KREL)" || { echo "no kernel release for KDIR=$(KDIR)" >&2; exit 1; }
	@mkdir -p $(BUILD)/module
	@ln -sf $(CURDIR)/Kbuild $(BUILD)/Kbuild
	@ln -sf $(addprefix $(CURDIR)/,$(MODSRC)) $(BUILD)/module/
	@scripts/compat-probe $(KDIR) $(BUILD)/module/compat-gen.h
	@$(MAKE) -s $(KBUILD_ARGS) modules
	@echo "  built $(BUILD)/module/dm-cbw.ko"

sparse: module
	@$(MAKE) -s $(KBUILD_ARGS) C=2 CHECK=sparse modules

lint: deps
	@scripts/lint

cbwctl: $(DEPS)
	@$(MAKE) -s -C dmtools

unit:
	@$(MAKE) -s -C dmtools check

demo: deps cbwctl
	@scripts/demo

check: deps cbwctl
	@scripts/check

clean:
	rm -rf build
	@$(MAKE) -s -C dmtools clean
