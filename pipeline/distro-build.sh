#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make distro-build': the series in Debian's own kernel configurations
# (package linux-config-6.12: amd64, cloud-amd64, rt-amd64), each with
# the series' option added.  Builds vmlinux, then kvm.ko, kvm-amd.ko and
# kvm-intel.ko as single targets: modpost checks every symbol they use
# against vmlinux and each other.  Prints one line per config: built, or
# the first error.  Not part of 'make check' (25 to 31 minutes a config
# here, cold).
#
# Changed from Debian's configs, for this build only: no debug info (no
# pahole for BTF, and half the time), no module signing at build time
# (Debian signs afterwards).  Neither changes what modpost checks.
set -euo pipefail
. "$(dirname "$0")/common.sh"

CONFIG_DIR=/usr/src/linux-config-6.12
CONFIGS=${DISTRO_CONFIGS:-amd64_none_amd64 amd64_none_cloud-amd64 amd64_rt_amd64}
KVM_MODULES=(arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko arch/x86/kvm/kvm-intel.ko)
# Modules whose exports the KVM modules use when Debian builds them as
# modules: modpost of single targets sees only vmlinux.o and the targets.
DEP_MODULES=("IRQ_BYPASS_MANAGER virt/lib/irqbypass.ko"
	     "CRYPTO_DEV_CCP_DD drivers/crypto/ccp/ccp.ko")
# Objects of Debian's configs would push the test kernel's out of ccache.
export CCACHE_DIR=$GMEM_CACHE/ccache-distro

set_tree_paths
take_cache_lock
[ -d "$CONFIG_DIR" ] || die "$CONFIG_DIR missing (run 'make deps')"

configure()
{
	local obj=$1 name=$2 sym

	mkdir -p "$obj" || return 1
	xzcat "$CONFIG_DIR/config.$name.xz" >"$obj/.config" || return 1
	"$KSRC/scripts/config" --file "$obj/.config" \
		--enable UNMAPPED_ALLOC \
		--disable DEBUG_INFO --disable DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT \
		--disable DEBUG_INFO_BTF --enable DEBUG_INFO_NONE \
		--disable MODULE_SIG_ALL --set-str LOCALVERSION -gmem-pool-distro || return 1
	make -C "$KSRC" O="$obj" -s CC="ccache gcc" HOSTCC="ccache gcc" olddefconfig || return 1
	for sym in UNMAPPED_ALLOC X86_DIRECT_MAP_COLLAPSE KVM KVM_AMD KVM_INTEL; do
		grep -qE "^CONFIG_$sym=[ym]" "$obj/.config" ||
			{ echo "CONFIG_$sym did not survive olddefconfig"; return 1; }
	done
}

# The KVM modules, and the modules they need that this config builds.
module_targets()
{
	local dep

	printf '%s\n' "${KVM_MODULES[@]}"
	for dep in "${DEP_MODULES[@]}"; do
		grep -qx "CONFIG_${dep%% *}=m" "$1/.config" && echo "${dep#* }"
	done
	return 0
}

first_error()
{
	grep -m1 -E ': (fatal )?error:|^ERROR: |\*\*\* ' "$1" || tail -n1 "$1"
}

# What this config makes of the series: guest_memfd (KVM_PRIVATE_MEM)
# and the 2M folios (THP) are Debian's choice, not ours.
describe()
{
	local sym v out=""

	for sym in KVM KVM_PRIVATE_MEM KVM_AMD_SEV TRANSPARENT_HUGEPAGE PREEMPT_RT; do
		v=$(sed -n "s/^CONFIG_$sym=//p" "$1/.config")
		out+=" $sym=${v:-n}"
	done
	echo "$out"
}

# Builds config @1 in its own object tree; logs in build/distro-@1-*.log.
# On failure, FAILED_LOG names the log that holds the error.
build_one()
{
	local name=$1 obj=$TREE/obj-distro-$1 logs=$REPO/build/distro-$1
	local kmake=(make -C "$KSRC" O="$obj" -j"$JOBS" CC="ccache gcc" HOSTCC="ccache gcc")
	local targets

	FAILED_LOG=$logs-config.log
	configure "$obj" "$name" >"$FAILED_LOG" 2>&1 || return 1
	FAILED_LOG=$logs-vmlinux.log
	run_logged "$name: vmlinux" "$FAILED_LOG" "${kmake[@]}" vmlinux || return 1
	FAILED_LOG=$logs-kvm.log
	mapfile -t targets < <(module_targets "$obj")
	run_logged "$name: KVM modules" "$FAILED_LOG" "${kmake[@]}" "${targets[@]}" || return 1
	# Built means modpost ran over them.
	grep -q 'MODPOST' "$FAILED_LOG" || { echo "modpost did not run" >>"$FAILED_LOG"; return 1; }
}

mkdir -p "$REPO/build"
results=() failed=0
for name in $CONFIGS; do
	[ -f "$CONFIG_DIR/config.$name.xz" ] || die "no $CONFIG_DIR/config.$name.xz"
	log "$name: configuring and building vmlinux + KVM modules"
	start=$(date +%s)
	if build_one "$name"; then
		results+=("$name: built in $(($(date +%s) - start))s:$(describe "$TREE/obj-distro-$name")")
	else
		results+=("$name: FAILED after $(($(date +%s) - start))s: $(first_error "$FAILED_LOG")")
		failed=$((failed + 1))
	fi
done
echo
printf '%s\n' "${results[@]}"
[ $failed -eq 0 ]
