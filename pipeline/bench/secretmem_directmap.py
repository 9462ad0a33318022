#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Fault SIZE of memfd_secret memory page by page, close it, and print
what that did to the direct map: DirectMap4k/2M/1G, the split and
collapse counters and the unmapped pool's counters, before, while
mapped, after close and, where the unmapped pool exists, after draining
it.  TLB flushes of kernel ranges reach the other CPUs as function-call
IPIs: the CAL line of /proc/interrupts (summed over CPUs) counts them,
with every other cross-CPU function call of the same time.

Then, where the pool exists, the reuse case: the same size faulted again
on the pages the first round freed, counting the TLB shootdowns among
the cross-CPU calls (the csd_queue_cpu trace event names the function
each call runs; kernel-range ones apart from user-mapping ones) and the
pool's lock acquisitions per 4 KiB allocation and free.  The process
stays on one CPU.  With CSV_PATH, one line per size goes there.

usage: secretmem_directmap.py [SIZE_MIB [CSV_PATH]]   (default 1024;
secretmem is charged to RLIMIT_MEMLOCK as it is faulted: raise
'ulimit -l' first)
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
TRACING = "/sys/kernel/tracing"
INSTANCE = TRACING + "/instances/secretmem_bench"
# Kernel-range TLB shootdowns (the pool's, CPA's), and user ones (munmap).
KERNEL_FLUSHES = ("func=do_kernel_range_flush", "func=do_flush_tlb_all")
USER_FLUSHES = ("func=flush_tlb_func",)


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
                if key in ("window_maps", "blocks_unmapped", "blocks_restored",
                           "lock_takes", "cache_hits", "cache_misses", "slot_clears"):
                    snap["pool " + key] = snap.get("pool " + key, 0) + int(val)
    return snap


def secretmem_fault(libc, size):
    """Map SIZE of secretmem, fault it 4 KiB at a time; returns (fd, mem)."""
    fd = libc.syscall(NR_MEMFD_SECRET, 0)
    if fd < 0:
        err = ctypes.get_errno()
        sys.exit(f"memfd_secret: {os.strerror(err)} (secretmem.enable=0?)")
    os.ftruncate(fd, size)
    mem = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    for off in range(0, size, PAGE):
        mem[off] = 1
    return fd, mem


def write(path, val):
    with open(path, "w") as f:
        f.write(val)


def trace_start():
    """A trace instance of its own with csd_queue_cpu on, or False."""
    if not os.path.isdir(TRACING + "/instances"):
        os.system(f"mount -t tracefs nodev {TRACING} 2>/dev/null")
    try:
        os.makedirs(INSTANCE, exist_ok=True)
        write(INSTANCE + "/buffer_size_kb", "16384")
        write(INSTANCE + "/events/csd/csd_queue_cpu/enable", "1")
    except OSError:
        return False
    return True


def trace_stop_flushes():
    """(kernel, user) TLB shootdowns traced since trace_start(), and the
    count of every function the cross-CPU calls ran."""
    write(INSTANCE + "/events/csd/csd_queue_cpu/enable", "0")
    kernel = user = 0
    funcs = {}
    with open(INSTANCE + "/trace") as f:
        for line in f:
            kernel += any(func in line for func in KERNEL_FLUSHES)
            user += any(func in line for func in USER_FLUSHES)
            for word in line.split():
                if word.startswith("func="):
                    funcs[word[5:]] = funcs.get(word[5:], 0) + 1
    os.rmdir(INSTANCE)
    return kernel, user, funcs


def reuse_round(libc, mib, csv):
    """Fault MIB again on the pool's reused pages: shootdowns, locks."""
    size = mib << 20
    traced = trace_start()
    before = snapshot()
    fd, mem = secretmem_fault(libc, size)
    mem.close()
    os.close(fd)
    after = snapshot()
    flushes, user, funcs = trace_stop_flushes() if traced else (-1, -1, {})
    pairs = size // PAGE
    calls = after["irq CAL"] - before["irq CAL"]
    takes = after["pool lock_takes"] - before["pool lock_takes"]
    hits = after["pool cache_hits"] - before["pool cache_hits"]
    per2m = flushes / (size >> 21) if traced else float("nan")
    print(f"secretmem {mib} MiB again on reused pool pages: {flushes} kernel TLB shootdowns "
          f"({per2m:.3f} per 2 MiB, goal at most 2; {user} user-mapping ones from munmap), "
          f"{calls} cross-CPU calls in all "
          f"({calls / (size >> 21):.3f} per 2 MiB); pool lock {takes} times for {pairs} "
          f"4 KiB alloc+free pairs ({takes / pairs:.4f} per pair, goal below 0.1), "
          f"{hits} cache hits")
    if funcs:
        top = sorted(funcs.items(), key=lambda kv: -kv[1])[:6]
        print("  cross-CPU calls traced, by function: " +
              ", ".join(f"{name} {n}" for name, n in top))
    if csv:
        new = not os.path.exists(csv)
        with open(csv, "a") as f:
            if new:
                f.write("size_mib,kernel_tlb_shootdowns,shootdowns_per_2m,user_tlb_shootdowns,"
                        "cross_cpu_calls,pool_lock_takes,lock_takes_per_pair,cache_hits\n")
            f.write(f"{mib},{flushes},{per2m:.4f},{user},{calls},{takes},"
                    f"{takes / pairs:.5f},{hits}\n")


def main():
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    csv = sys.argv[2] if len(sys.argv) > 2 else None
    size = mib << 20
    # On one CPU from the start: unmapping then sends no TLB shootdown for
    # the process's own mappings, which have been on no other CPU.
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    libc = ctypes.CDLL(None, use_errno=True)
    before = snapshot()

    fd, mem = secretmem_fault(libc, size)
    mapped = snapshot()
    mem.close()
    os.close(fd)
    columns = [("before", before), ("mapped", mapped), ("after close", snapshot())]
    pool = os.path.exists(DRAIN) and os.path.exists(STATS)
    if pool:
        write(DRAIN, "1\n")
        columns.append(("after drain", snapshot()))

    print(f"secretmem, {mib} MiB faulted 4 KiB at a time")
    print(f"{'':30}" + "".join(f"{name:>13}" for name, _ in columns))
    for key in before:
        print(f"{key:30}" + "".join(f"{snap[key]:>13}" for _, snap in columns))
    if pool:
        # The first round leaves the pool's blocks free, with data in them.
        fd, mem = secretmem_fault(libc, size)
        mem.close()
        os.close(fd)
        reuse_round(libc, mib, csv)
        write(DRAIN, "1\n")


if __name__ == "__main__":
    main()
