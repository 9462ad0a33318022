#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest job: what secretmem does to the direct map (pipeline/bench).
# secretmem is charged to RLIMIT_MEMLOCK when faulted, even for root.
ulimit -l unlimited
exec /usr/bin/python3 "$REPO/pipeline/bench/secretmem_directmap.py" "${GUEST_BENCH_MIB:-1024}"
