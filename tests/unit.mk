# SPDX-License-Identifier: GPL-2.0
#
# The rules of a module unit test: tests/NAME/test_NAME.c includes
# module/SOURCE.c and is built in userspace against the shim in
# tests/shim/, twice: a plain optimised build, and one under
# AddressSanitizer and UndefinedBehaviorSanitizer.  A test's Makefile sets
# NAME and MODULE_SRC (the module files it covers) and includes this.
#
#   make check      build both and run them (TAP output)
#   make clean
#
# Binaries go to build/unit/NAME/ at the top of the tree.

ROOT := $(abspath $(CURDIR)/../..)
OUT ?= $(ROOT)/build/unit/$(NAME)

CC ?= cc
CFLAGS ?= -O2 -g
WARNINGS := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-sign-compare
ALL_CFLAGS := -std=gnu11 $(WARNINGS) -pthread $(CFLAGS)
CPPFLAGS := -I../shim/include -I$(ROOT)/dmtools/tests
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer

SRCS := test_$(NAME).c ../shim/shim.c
DEPS := $(SRCS) ../shim/rng.h $(wildcard ../shim/include/*/*.h ../shim/include/*/*/*.h) \
	$(addprefix $(ROOT)/module/,$(MODULE_SRC)) $(ROOT)/dmtools/tests/tap.h

.PHONY: all check clean

all: $(OUT)/test_$(NAME) $(OUT)/test_$(NAME)-san

$(OUT)/test_$(NAME): $(DEPS)
	@mkdir -p $(OUT)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $(SRCS)

$(OUT)/test_$(NAME)-san: $(DEPS)
	@mkdir -p $(OUT)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(SANITIZE) -o $@ $(SRCS)

check: all
	@fail=0; \
	$(OUT)/test_$(NAME) || fail=1; \
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		$(OUT)/test_$(NAME)-san || fail=1; \
	exit $$fail

clean:
	rm -rf $(OUT)
