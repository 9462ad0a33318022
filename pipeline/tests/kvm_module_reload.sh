#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# KVM is built as modules.  While a VM holds guest_memfd memory from the
# unmapped pool, 'rmmod kvm_amd' is refused and the memory stays where it
# is; once everything is closed, kvm_amd and kvm unload, the pool pages
# are all back, and kvm_amd loads again for the tests that follow.
set -eu
POOL=/sys/kernel/debug/unmapped_alloc/stats
used() { awk '$1 == "pages_used" { s += $2 } END { print s + 0 }' "$POOL"; }
fail() { echo "FAIL: $*"; exit 1; }

[ -d /sys/module/kvm_amd ] || fail "kvm_amd is not loaded"
[ -e /sys/module/kvm_amd/initstate ] || fail "kvm_amd is built in: nothing to unload"
before=$(used)

# A VM with a 4 MiB guest_memfd, GUEST_MEMFD_FLAG_NO_DIRECT_MAP, allocated;
# it holds them until its stdin closes.
fifo=/tmp/kvm_module_reload.fifo
rm -f "$fifo"; mkfifo "$fifo"
holder_py='
import ctypes, fcntl, os, struct, sys
KVM_CREATE_VM = 0xae01
KVM_CREATE_GUEST_MEMFD = 0xc040aed4
NO_DIRECT_MAP = 1 << 2
kvm = os.open("/dev/kvm", os.O_RDWR)
vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
args = bytearray(struct.pack("QQ6Q", 4 << 20, NO_DIRECT_MAP, *[0] * 6))
gmem = fcntl.ioctl(vm, KVM_CREATE_GUEST_MEMFD, args)
libc = ctypes.CDLL(None, use_errno=True)
FALLOC_FL_KEEP_SIZE = 1
if libc.fallocate(gmem, FALLOC_FL_KEEP_SIZE, ctypes.c_long(0), ctypes.c_long(4 << 20)):
    sys.exit("fallocate: " + os.strerror(ctypes.get_errno()))
print("holding", flush=True)
sys.stdin.read()
'
python3 -c "$holder_py" <"$fifo" &
holder=$!
exec 3>"$fifo"
for i in $(seq 1 50); do
	[ "$(used)" -ge $((before + 1024)) ] && break
	sleep 0.2
done
held=$(used)
[ "$held" -ge $((before + 1024)) ] || fail "the VM took $((held - before)) pool pages, expected 1024"

if rmmod kvm_amd 2>/tmp/rmmod.err; then
	fail "rmmod kvm_amd succeeded while a VM held guest_memfd memory"
fi
echo "rmmod kvm_amd while in use: $(cat /tmp/rmmod.err)"
[ -d /sys/module/kvm_amd ] || fail "kvm_amd is gone"
[ "$(used)" -eq "$held" ] || fail "pool pages in use went from $held to $(used)"

exec 3>&-
wait $holder || fail "the VM holder failed"
[ "$(used)" -eq "$before" ] || fail "$(( $(used) - before )) pool pages still in use after close"
rmmod kvm_amd || fail "rmmod kvm_amd after close"
rmmod kvm || fail "rmmod kvm after kvm_amd"
modprobe -d "$MODROOT" kvm_amd || fail "modprobe kvm_amd"
[ -c /dev/kvm ] || fail "no /dev/kvm after reload"
echo "kvm_amd and kvm unloaded and reloaded"
