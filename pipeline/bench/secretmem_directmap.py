#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Fault SIZE of memfd_secret memory page by page, close it, and print
what that did to the direct map: DirectMap4k/2M/1G, the split and
collapse counters and the unmapped pool's counters, before, while
mapped, after close and, where the unmapped pool exists, after draining
it.  TLB flushes of kernel ranges reach the other CPUs as function-call
IPIs: the CAL line of /proc/interrupts (summed over CPUs) counts them,
with every other cross-CPU function call of the same time.

usage: secretmem_directmap.py [SIZE_MIB]   (default 1024; secretmem is
charged to RLIMIT_MEMLOCK as it is faulted: raise 'ulimit -l' first)
"""
import ctypes
import mmap
import os
import sys

NR_MEMFD_SECRET = 447  # x86_64
PAGE = 4096
DRAIN = "/sys/kernel/debug/unmapped_alloc/drain"
STATS = "/sys/kernel/debug/unmapped_alloc/stats"
VMSTAT_KEYS = ("direct_map_", "nr_unmapped_", "unmapped_block_")


def snapshot():
    snap = {}
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("DirectMap"):
                key, val = line.split(":")
                snap[key] = int(val.split()[0])
    with open("/proc/vmstat") as f:
        for line in f:
            key, val = line.split()
            if key.startswith(VMSTAT_KEYS):
                snap[key] = int(val)
    with open("/proc/interrupts") as f:
        ncpu = len(f.readline().split())
        for line in f:
            fields = line.split()
            if fields[0] in ("CAL:", "TLB:"):
                snap["irq " + fields[0][:-1]] = sum(int(x) for x in fields[1:1 + ncpu])
    if os.path.exists(STATS):
        with open(STATS) as f:
            for line in f:
                key, _, val = line.partition(" ")
                if key in ("window_maps", "blocks_unmapped", "blocks_restored"):
                    snap["pool " + key] = snap.get("pool " + key, 0) + int(val)
    return snap


def main():
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    size = mib << 20
    libc = ctypes.CDLL(None, use_errno=True)
    before = snapshot()

    fd = libc.syscall(NR_MEMFD_SECRET, 0)
    if fd < 0:
        err = ctypes.get_errno()
        sys.exit(f"memfd_secret: {os.strerror(err)} (secretmem.enable=0?)")
    os.ftruncate(fd, size)
    mem = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    for off in range(0, size, PAGE):
        mem[off] = 1
    mapped = snapshot()
    mem.close()
    os.close(fd)
    columns = [("before", before), ("mapped", mapped), ("after close", snapshot())]
    if os.path.exists(DRAIN) and os.path.exists(STATS):
        with open(DRAIN, "w") as f:
            f.write("1\n")
        columns.append(("after drain", snapshot()))

    print(f"secretmem, {mib} MiB faulted 4 KiB at a time")
    print(f"{'':30}" + "".join(f"{name:>13}" for name, _ in columns))
    for key in before:
        print(f"{key:30}" + "".join(f"{snap[key]:>13}" for _, snap in columns))


if __name__ == "__main__":
    main()
