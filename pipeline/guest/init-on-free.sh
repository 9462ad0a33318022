#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest job for pipeline/tests/init_on_free.sh, booted with init_on_alloc=1
# init_on_free=1: the pool's KUnit case for it ran (not skipped) and
# passed, and guests see no page of a previous guest on either path.
set -eu
dmesg | grep -q 'heap alloc:on, heap free:on' ||
	{ echo "FAIL: init_on_alloc and init_on_free are not both on"; dmesg | grep 'mem auto-init'; exit 1; }
results=/sys/kernel/debug/kunit/unmapped_alloc/results
if ! grep -Eq '^ +ok [0-9]+ ua_init_on_free_scrubs$' "$results"; then
	echo "FAIL: ua_init_on_free_scrubs did not pass"
	cat "$results"
	exit 1
fi
echo "ua_init_on_free_scrubs passed"
cd "$KST/kvm" && ./x86_64/guest_memfd_unmapped_test --init-on-free
