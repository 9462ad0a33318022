#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest job for pipeline/tests/pool_param.sh: booted with
# unmapped_alloc=bogus, the kernel said so and kept the pools on.
set -eu
grep -qw unmapped_alloc=bogus /proc/cmdline
dmesg | grep 'unmapped_alloc: unknown value "bogus" ignored' ||
	{ echo "FAIL: no warning about unmapped_alloc=bogus"; dmesg | grep -i unmapped_alloc; exit 1; }
grep -q '^node ' /sys/kernel/debug/unmapped_alloc/stats ||
	{ echo "FAIL: the pools are off"; exit 1; }
echo "pools on: $(grep -c '^node ' /sys/kernel/debug/unmapped_alloc/stats) nodes"
