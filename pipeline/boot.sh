#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot the built kernel under TCG and run one guest job.
#   boot.sh <job: script path relative to the repo> [timeout seconds]
# GMEM_APPEND adds kernel parameters; GUEST_* variables reach the job.
# Exit: 0 job passed, 1 job failed, 2 guest ended without a verdict
# (panic, crash), 3 timed out, 4 QEMU could not run.  The serial console
# is in $RESULTS/console.log.
set -euo pipefail
. "$(dirname "$0")/common.sh"

JOB=${1:?usage: boot.sh <job script> [timeout]}
TIMEOUT=${2:-1800}
# A kernel that has not started init by then is not going to: fail fast
# instead of waiting out TIMEOUT.  A normal boot takes ~5 s here.
INIT_DEADLINE=${INIT_DEADLINE:-300}
set_tree_paths
BZIMAGE=$KOBJ/arch/x86/boot/bzImage
[ -f "$BZIMAGE" ] || die "no kernel at $BZIMAGE (run 'make build')"
[ -f "$REPO/$JOB" ] || die "no guest job $JOB"

# The patched QEMU and the test guest (make build) reach the job as GUEST_*.
if [ -f "$REPO/build/qemu.env" ]; then
	. "$REPO/build/qemu.env"
fi
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
{
	echo "export REPO='$REPO' KSRC='$KSRC' KST='$KST' MODROOT='$MODROOT' OUT=/tmp/results"
	echo ". \"\$REPO/pipeline/guest/modules.sh\""
	# GUEST_* variables are passed on to the job.
	env | grep '^GUEST_[A-Za-z0-9_]*=' | sed "s/'/'\\\\''/g; s/=/='/; s/^/export /; s/\$/'/" || true
	echo "exec sh \"\$REPO/$JOB\""
} >"$RESULTS/job.sh"

# An empty scratch disk for jobs that need block I/O (pipeline/tests/
# lockdep_io.sh): /dev/vda in the guest, two queues.
SCRATCH=$(mktemp /tmp/gmem-scratch.XXXXXX)
trap 'rm -f "$SCRATCH"' EXIT
truncate -s 64M "$SCRATCH"

# thread=single: multi-threaded TCG crashed our kernel at boot ~1 in 10.
# -cpu max: AMD SVM with nested paging, so kvm_amd runs real L2 vCPUs.
# 6G: enough that the guest's direct map uses 1 GiB pages.
# NUMA as hosts have it, and the corners of it: node 0 (CPU 0, 3G), node 1
# (3G, no CPU), node 2 (CPU 1, no memory) and node 3, far from the others,
# whose only memory is a DIMM that boots offline for the hotplug tests.
# One socket per CPU: CPUs sharing a cache across nodes make the scheduler
# warn at boot.
QEMU=(qemu-system-x86_64 -accel tcg,thread=single -cpu max -smp 2,sockets=2
      -m 6G,slots=2,maxmem=8G
      -object memory-backend-ram,id=m0,size=3G -numa node,nodeid=0,cpus=0,memdev=m0
      -object memory-backend-ram,id=m1,size=3G -numa node,nodeid=1,memdev=m1
      -numa node,nodeid=2,cpus=1 -numa node,nodeid=3
      -numa dist,src=0,dst=1,val=20 -numa dist,src=0,dst=2,val=20
      -numa dist,src=1,dst=2,val=20 -numa dist,src=0,dst=3,val=40
      -numa dist,src=1,dst=3,val=40 -numa dist,src=2,dst=3,val=40
      -object memory-backend-ram,id=hp0,size=512M
      -device pc-dimm,id=dimm0,memdev=hp0,node=3
      -machine q35 -nodefaults -display none -monitor none -no-reboot
      -serial "file:$RESULTS/console.log"
      -kernel "$BZIMAGE"
      -append "console=ttyS0 root=hostroot rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=512000 ro init=$REPO/pipeline/guest/init.sh panic=-1 oops=panic ${GMEM_APPEND:-}"
      -fsdev "local,id=hostroot,path=/,security_model=none,readonly=on"
      -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
      -fsdev "local,id=results,path=$RESULTS,security_model=none"
      -device virtio-9p-pci,fsdev=results,mount_tag=results
      -drive "file=$SCRATCH,if=none,format=raw,id=scratch,cache=unsafe"
      -device virtio-blk-pci,drive=scratch,num-queues=2
      -device isa-debug-exit,iobase=0xf4,iosize=0x01)

log "booting $(cat "$KOBJ/include/config/kernel.release") under TCG for $JOB (timeout ${TIMEOUT}s)"
start=$SECONDS
timeout -k 10 "$TIMEOUT" "${QEMU[@]}" </dev/null >"$RESULTS/qemu.log" 2>&1 &
qpid=$!
no_init=0
while kill -0 $qpid 2>/dev/null; do
	sleep 2
	t=$((SECONDS - start))
	[ $((t % 30)) -lt 2 ] && [ $t -ge 30 ] &&
		log "guest: ${t}s, now: $(cat "$RESULTS/current" 2>/dev/null || echo booting)"
	if [ $t -ge "$INIT_DEADLINE" ] && ! grep -q '^guest: ' "$RESULTS/console.log"; then
		no_init=1
		kill $qpid 2>/dev/null || true
	fi
done
rc=0
wait $qpid || rc=$?
if [ $no_init -eq 1 ]; then
	log "the kernel did not start init within ${INIT_DEADLINE}s: see $RESULTS/console.log"
	tail -30 "$RESULTS/console.log" >&2
	exit 2
fi
secs=$((SECONDS - start))
echo "$secs" >"$RESULTS/boot.seconds"

# timeout(1) owns 124 (timed out), 137 (killed) and 125-127 (could not
# run); otherwise an odd status is the job's verdict from isa-debug-exit.
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	log "guest timed out after ${TIMEOUT}s: see $RESULTS/console.log"
	tail -30 "$RESULTS/console.log" >&2
	exit 3
elif [ $rc -ge 125 ] && [ $rc -le 127 ] || { [ $rc -ne 0 ] && [ $((rc % 2)) -eq 0 ]; } ||
     { [ $rc -ne 0 ] && ! grep -q '^guest: job exited' "$RESULTS/console.log"; }; then
	# QEMU's own errors exit with 1, which would read as a passed job:
	# a verdict needs the guest's last words on the console.
	log "QEMU failed (status $rc):"
	cat "$RESULTS/qemu.log" >&2
	exit 4
elif [ $rc -eq 0 ]; then
	log "guest ended without a verdict after ${secs}s (panic or crash): see $RESULTS/console.log"
	tail -30 "$RESULTS/console.log" >&2
	exit 2
elif [ $rc -eq 1 ]; then
	log "guest job passed (${secs}s)"
	exit 0
fi
log "guest job failed with status $((rc >> 1)) (${secs}s): see $RESULTS/job.log"
exit 1
