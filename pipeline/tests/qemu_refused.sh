#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Bad input to the patched QEMU: every case must end within a minute with
# exit status 1 and an error saying what is wrong (never a signal, a
# hang, or a guest that starts).
#   qemu_refused.sh options   malformed -object options (host, no KVM needed)
#   qemu_refused.sh kvm       refused on a KVM that has everything (test guest)
#   qemu_refused.sh no-cap    the property on a kernel without the flag
#   qemu_refused.sh no-type   sw-protected-guest on a KVM without the VM type
# QEMU comes from GUEST_QEMU, or build/qemu.env on the host.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${GUEST_QEMU:-}" ] && [ -f "$REPO/build/qemu.env" ]; then
	. "$REPO/build/qemu.env"
fi
QEMU=${GUEST_QEMU:?GUEST_QEMU: the patched qemu-system-x86_64}
IMAGE=${GUEST_CONVERT_GUEST:?GUEST_CONVERT_GUEST: convert-guest.bin}

fail=0
n=0
# refused <description> <regex the error must match> <qemu arguments...>
refused()
{
	local what=$1 want=$2 rc=0 out
	shift 2
	n=$((n + 1))
	out=$(timeout -k 5 60 "$QEMU" -L /usr/share/qemu -nodefaults -display none \
		-monitor none -m 64M -bios "$IMAGE" "$@" </dev/null 2>&1) || rc=$?
	if [ $rc -eq 1 ] && printf '%s\n' "$out" | grep -qE -- "$want"; then
		echo "ok $n - $what"
		printf '%s\n' "$out" | sed 's/^/    /'
	else
		echo "not ok $n - $what: exit status $rc (1 expected), output:"
		printf '%s\n' "$out" | sed 's/^/    /'
		echo "    expected an error matching: $want"
		fail=1
	fi
}

SWP=(-machine q35,confidential-guest-support=prot)

case "${1:-}" in
options)
	refused "a property value that is not a bool" \
		"Parameter 'guest-memfd-no-direct-map' expects 'on' or 'off'" \
		"${SWP[@]}" -object sw-protected-guest,id=prot,guest-memfd-no-direct-map=maybe
	refused "an unknown sw-protected-guest property" \
		"Invalid parameter 'no-such-thing'" \
		"${SWP[@]}" -object sw-protected-guest,id=prot,no-such-thing=on
	refused "the property on sev-guest, which does not use guest_memfd" \
		"Invalid parameter 'guest-memfd-no-direct-map'" \
		-object sev-guest,id=sev,reduced-phys-bits=1,guest-memfd-no-direct-map=on
	refused "sw-protected-guest without KVM" \
		"sw-protected-guest: KVM required" \
		-accel tcg "${SWP[@]}" -object sw-protected-guest,id=prot
	;;
kvm)
	refused "sw-protected-guest with smm=on (KVM gives private-memory VMs no SMM)" \
		"sw-protected-guest does not support SMM" \
		-accel kvm -machine q35,smm=on,confidential-guest-support=prot \
		-object sw-protected-guest,id=prot
	;;
no-cap)
	refused "guest-memfd-no-direct-map=on on a kernel without GUEST_MEMFD_FLAG_NO_DIRECT_MAP" \
		"'guest-memfd-no-direct-map=on' needs a host kernel .*GUEST_MEMFD_FLAG_NO_DIRECT_MAP" \
		-accel kvm "${SWP[@]}" -object sw-protected-guest,id=prot,guest-memfd-no-direct-map=on
	;;
no-type)
	refused "sw-protected-guest on a KVM without KVM_X86_SW_PROTECTED_VM" \
		"does not offer KVM_X86_SW_PROTECTED_VM .*CONFIG_KVM_SW_PROTECTED_VM" \
		-accel kvm "${SWP[@]}" -object sw-protected-guest,id=prot
	;;
*)
	echo "usage: $0 options|kvm|no-cap|no-type" >&2
	exit 2 ;;
esac
exit $fail
