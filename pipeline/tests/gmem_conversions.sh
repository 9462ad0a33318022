#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest test: upstream's private_mem_conversions_test with its guest_memfd
# on the unmapped pool (-u, this project's option): 4 vCPUs, 2 memslots.
# The pool must have served it (pages handed out zeroed grew) and have
# every page back afterwards.
set -eu
stats=/sys/kernel/debug/unmapped_alloc/stats
pool() { awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }' "$stats"; }

used=$(pool pages_used)
zeroed=$(pool pages_zeroed)
"$KST/kvm/x86_64/private_mem_conversions_test" -u -n 4 -m 2
echo "pool: pages_used $used -> $(pool pages_used), pages_zeroed $zeroed -> $(pool pages_zeroed)"
if [ "$(pool pages_zeroed)" -le "$zeroed" ]; then
	echo "FAIL: the pool handed out no page: guest_memfd did not use it"
	exit 1
fi
if [ "$(pool pages_used)" -ne "$used" ]; then
	echo "FAIL: $(( $(pool pages_used) - used )) pool pages still used after the test"
	exit 1
fi
