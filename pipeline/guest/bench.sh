#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest job for 'make bench': what secretmem does to the direct map, and,
# where the unmapped pool exists, 1 GiB of private guest_memfd memory with
# and without it (pipeline/bench, guest_memfd_unmapped_test --bench).
# secretmem is charged to RLIMIT_MEMLOCK when faulted, even for root.
set -eu
ulimit -l unlimited
/usr/bin/python3 "$REPO/pipeline/bench/secretmem_directmap.py" "${GUEST_BENCH_MIB:-1024}"
echo
if [ -d /sys/kernel/debug/unmapped_alloc ]; then
	cd "$KST/kvm" && ./x86_64/guest_memfd_unmapped_test --bench
else
	echo "guest_memfd bench: no unmapped pool in this boot, skipped"
fi
