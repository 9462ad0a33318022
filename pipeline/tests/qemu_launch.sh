#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Inside the test guest: the patched QEMU launches qemu-guest/convert-guest
# as a sw-protected-guest with -accel kvm (kvm_amd under TCG), once with
# guest-memfd-no-direct-map=on and once without.  The guest converts 4 MiB
# to private, fills it, waits on its serial port while this script reads
# the pool and direct-map figures, then converts back and exits through
# isa-debug-exit.  Prints a table of the figures (before, while private,
# after QEMU exited, after a pool drain) and one ok/not ok line per check.
# Needs GUEST_QEMU (qemu-system-x86_64) and GUEST_CONVERT_GUEST (the image).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
QEMU=${GUEST_QEMU:?GUEST_QEMU: the patched qemu-system-x86_64}
IMAGE=${GUEST_CONVERT_GUEST:?GUEST_CONVERT_GUEST: convert-guest.bin}
POOL=/sys/kernel/debug/unmapped_alloc
GUEST_OK=99		# isa-debug-exit: (0x31 << 1) | 1
WAIT=300		# seconds for the guest to reach a step under nested TCG

fail=0
n=0
check()		# description, then a command that must succeed
{
	local what=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		fail=1
	fi
}

# Every figure must be read: an empty one would make comparisons vacuous.
sum_of()	# key file: the sum of the key's values (one per node), or nothing
{
	awk -v k="$1" '$1 == k || $1 == k":" { s += $2; n++ } END { if (n) print s }' "$2"
}
stat_of() { sum_of "$1" "$POOL/stats"; }
meminfo() { sum_of "$1" /proc/meminfo; }
vmstat() { sum_of "$1" /proc/vmstat; }

declare -A fig
qpid=
trap '[ -z "$qpid" ] || kill -9 $qpid 2>/dev/null || true' EXIT
FIGURES="used blocks dm4k dm2m dm1g l2 l3"
sample()	# column label
{
	fig[$1,used]=$(stat_of pages_used)
	fig[$1,blocks]=$(stat_of blocks)
	fig[$1,dm4k]=$(meminfo DirectMap4k)
	fig[$1,dm2m]=$(meminfo DirectMap2M)
	fig[$1,dm1g]=$(meminfo DirectMap1G)
	fig[$1,l2]=$(vmstat direct_map_level2_splits)
	fig[$1,l3]=$(vmstat direct_map_level3_splits)
	local k
	for k in $FIGURES; do
		if [ -z "${fig[$1,$k]}" ]; then
			echo "not ok - could not read figure '$k' ($1)"
			exit 1
		fi
	done
}

table()		# title
{
	local row key
	printf '\n%s\n' "$1"
	printf '  %-28s %10s %10s %12s %12s\n' "" before private "QEMU exited" "pool drained"
	for row in "pool pages used:used" "pool 2 MiB blocks:blocks" \
		   "DirectMap4k (kB):dm4k" "DirectMap2M (kB):dm2m" \
		   "DirectMap1G (kB):dm1g" "direct map level-2 splits:l2" \
		   "direct map level-3 splits:l3"; do
		key=${row#*:}
		printf '  %-28s %10s %10s %12s %12s\n' "${row%%:*}" \
			"${fig[before,$key]}" "${fig[during,$key]}" \
			"${fig[exited,$key]}" "${fig[drained,$key]}"
	done
}

drain() { echo 1 >"$POOL/drain"; }

# launch <guest-memfd-no-direct-map: on|off>; sets status, private_pages
launch()
{
	local dir line size
	dir=$(mktemp -d)
	mkfifo "$dir/serial.in" "$dir/serial.out"
	echo "\$ $QEMU -accel kvm -machine q35,confidential-guest-support=prot" \
	     "-object sw-protected-guest,id=prot,guest-memfd-no-direct-map=$1" \
	     "-m 64M -bios $(basename "$IMAGE") ..."
	"$QEMU" -accel kvm -machine q35,confidential-guest-support=prot \
		-object "sw-protected-guest,id=prot,guest-memfd-no-direct-map=$1" \
		-m 64M -bios "$IMAGE" -L /usr/share/qemu \
		-nodefaults -display none -monitor none \
		-chardev "pipe,id=serial,path=$dir/serial" -serial chardev:serial \
		-device isa-debug-exit,iobase=0xf4,iosize=4 \
		</dev/null >"$dir/qemu.log" 2>&1 &
	qpid=$!
	# Read-write, so that opening does not wait for QEMU and writing does
	# not block once QEMU has gone.
	exec 3<>"$dir/serial.out" 4<>"$dir/serial.in"
	private_pages=
	local partial= deadline=$((SECONDS + WAIT))
	while [ $SECONDS -lt $deadline ]; do
		if ! read -r -t 2 -u 3 line; then
			partial+=$line		# a timeout keeps what it read
			kill -0 $qpid 2>/dev/null || break
			continue
		fi
		line=$partial$line
		partial=
		echo "  guest: $line"
		case "$line" in
		"convert-guest: private "*)
			size=${line##* }
			private_pages=$((size / 4096))
			sample during
			echo c >&4
			;;
		"convert-guest: ok"|"convert-guest: FAIL"*)
			break ;;
		esac
	done
	exec 3<&- 4>&-
	# The guest's last line came before its exit port write; give QEMU
	# the time to exit, then stop it if it hangs.
	deadline=$((SECONDS + 30))
	while kill -0 $qpid 2>/dev/null && [ $SECONDS -lt $deadline ]; do
		sleep 1
	done
	kill -9 $qpid 2>/dev/null || true
	status=0
	wait $qpid || status=$?
	sed 's/^/  qemu: /' "$dir/qemu.log"
	rm -rf "$dir"
}

run_one()	# on|off
{
	local k delta=n/a
	for k in $FIGURES; do
		fig[during,$k]=n/a	# stays so if the guest never gets there
	done
	drain
	sample before
	launch "$1"
	sample exited
	drain
	sample drained
	table "sw-protected-guest, guest-memfd-no-direct-map=$1 (QEMU exit status $status)"
	echo
	check "guest-memfd-no-direct-map=$1: the guest converted, checked and reported success" \
		test "$status" -eq $GUEST_OK
	[ -n "$private_pages" ] || private_pages="the guest's size"
	[ "${fig[during,used]}" = n/a ] || delta=$((fig[during,used] - fig[before,used]))
	if [ "$1" = on ]; then
		check "on: pool pages in use grew by the private range ($private_pages pages) while private" \
			test "$delta" = "$private_pages"
	else
		check "off: pool pages in use did not move while private" \
			test "$delta" = 0
		check "off: the pool took no block" \
			test "${fig[during,blocks]}" = "${fig[before,blocks]}"
	fi
	check "$1: pool pages in use back to before once QEMU exited" \
		test "${fig[exited,used]}" = "${fig[before,used]}"
	check "$1: after a drain the pool holds the blocks it held before" \
		test "${fig[drained,blocks]}" = "${fig[before,blocks]}"
	check "$1: after a drain the direct map is as before (DirectMap4k/2M/1G)" \
		test "${fig[drained,dm4k]}/${fig[drained,dm2m]}/${fig[drained,dm1g]}" = \
		     "${fig[before,dm4k]}/${fig[before,dm2m]}/${fig[before,dm1g]}"
	check "$1: no level-2 split of the direct map" \
		test "${fig[drained,l2]}" = "${fig[before,l2]}"
}

[ -x "$QEMU" ] || { echo "not ok 1 - no QEMU at $QEMU"; exit 1; }
[ -r "$IMAGE" ] || { echo "not ok 1 - no guest image at $IMAGE"; exit 1; }
[ -w "$POOL/drain" ] || { echo "not ok 1 - no pool at $POOL"; exit 1; }
run_one on
run_one off
exit $fail
