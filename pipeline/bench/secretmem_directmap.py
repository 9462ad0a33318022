#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Fault SIZE of memfd_secret memory page by page, close it, and print
what that did to the direct map: DirectMap4k/2M/1G and the split and
collapse counters, before, while mapped, and after close.

usage: secretmem_directmap.py [SIZE_MIB]   (default 1024; secretmem is
charged to RLIMIT_MEMLOCK as it is faulted: raise 'ulimit -l' first)
"""
import ctypes
import mmap
import os
import sys

NR_MEMFD_SECRET = 447  # x86_64
PAGE = 4096


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
            if key.startswith("direct_map_"):
                snap[key] = int(val)
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
    after = snapshot()

    print(f"secretmem, {mib} MiB faulted 4 KiB at a time")
    print(f"{'':30}{'before':>12}{'mapped':>12}{'after close':>12}")
    for key in before:
        print(f"{key:30}{before[key]:>12}{mapped[key]:>12}{after[key]:>12}")


if __name__ == "__main__":
    main()
