#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest job for 'make bench': what secretmem does to the direct map, with
# its reuse on the pool's pages (pipeline/bench/secretmem_directmap.py),
# then, where the unmapped pool exists, guest_memfd's four paths side by
# side (guest_memfd_bench).  CSVs go to $OUT (build/results on the host).
# secretmem is charged to RLIMIT_MEMLOCK when faulted, even for root.
set -eu
ulimit -l unlimited
rm -f "$OUT/bench-secretmem.csv" "$OUT/bench.csv"
for mib in ${GUEST_BENCH_MIB:-256 1024}; do
	echo "== secretmem $mib MiB" >"$OUT/current"
	# On CPU 0 from exec: its mappings never reach the other CPU's TLB.
	taskset -c 0 /usr/bin/python3 "$REPO/pipeline/bench/secretmem_directmap.py" "$mib" \
		"$OUT/bench-secretmem.csv"
	echo
done
if [ -d /sys/kernel/debug/unmapped_alloc ]; then
	echo "== guest_memfd_bench" >"$OUT/current"
	cd "$KST/kvm" && ./x86_64/guest_memfd_bench "$OUT/bench.csv"
else
	echo "guest_memfd bench: no unmapped pool in this boot, skipped"
fi
