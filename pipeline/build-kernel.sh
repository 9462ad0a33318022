#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Configure and build the assembled tree: bzImage, uapi headers, selftests.
set -euo pipefail
. "$(dirname "$0")/common.sh"

set_tree_paths
# In the main shell first: a die inside a process substitution would not stop us.
kernel_fragments >/dev/null
mapfile -t FRAGMENTS < <(kernel_fragments)
KMAKE=(make -C "$KSRC" O="$KOBJ" -j"$JOBS" CC="ccache gcc" HOSTCC="ccache gcc")

# Every fragment line must survive olddefconfig: a dropped option is a
# missing dependency, and tests would skip for it later.  A later
# fragment overrides an earlier one, so only the last word on a symbol
# is checked.
check_fragment()
{
	local line sym bad=0
	while read -r line; do
		case "$line" in
		CONFIG_*=*)
			sym=${line%%=*}
			grep -qxF "$line" "$KOBJ/.config" && continue ;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }; sym=${sym%% *}
			grep -q "^$sym=" "$KOBJ/.config" || continue ;;
		*)	continue ;;
		esac
		printf '  wanted %-40s got: %s\n' "$line" \
			"$(grep -E "^(# )?$sym[= ]" "$KOBJ/.config" || echo unset)" >&2
		bad=1
	done < <(last_word_per_symbol "${FRAGMENTS[@]}")
	[ $bad -eq 0 ] || die "config fragments ${FRAGMENTS[*]} not satisfied (see above)"
}

configure()
{
	local stamp
	stamp=$(cat "${FRAGMENTS[@]}" "$KSRC/arch/x86/configs/x86_64_defconfig" | sha256sum | cut -c1-16)
	if [ -f "$KOBJ/.config" ] && [ "$(cat "$KOBJ/.config.stamp" 2>/dev/null)" = "$stamp" ]; then
		return 0
	fi
	log "configuring: x86_64_defconfig + ${FRAGMENTS[*]#"$REPO/"}"
	merge_kernel_config "$KSRC" "$KOBJ"
	check_fragment
	echo "$stamp" >"$KOBJ/.config.stamp"
}

build_kernel()
{
	local start=$SECONDS
	log "building bzImage and modules (kernel $(make -s -C "$KSRC" kernelversion), ccache in $CCACHE_DIR)"
	run_logged "bzImage and modules" "$KOBJ/build.log" "${KMAKE[@]}" bzImage modules || exit 1
	log "bzImage and modules built in $((SECONDS - start))s: $(cat "$KOBJ/include/config/kernel.release")"
	# The guest bind-mounts $MODROOT/lib/modules over /lib/modules.
	rm -rf "$MODROOT"
	run_logged "modules_install" "$KOBJ/modules_install.log" \
		"${KMAKE[@]}" INSTALL_MOD_PATH="$MODROOT" INSTALL_MOD_STRIP=1 modules_install || exit 1
	run_logged "headers" "$KOBJ/headers.log" "${KMAKE[@]}" headers || exit 1
}

# Selftests named by tests.list, make bench's and the one that
# tests/mm_run_vmtests.sh runs through run_vmtests.sh, as "<dir> <binary>"
# (kvm/x86_64/foo -> kvm x86_64/foo): only those are built.
selftests_wanted()
{
	awk '$1 == "selftest" { d = $2; sub(/\/.*/, "", d);
				r = $2; sub(/^[^\/]*\//, "", r); print d, r }' \
		"$REPO/pipeline/tests.list"
	echo "kvm x86_64/guest_memfd_bench"
	echo "mm unmapped_pool"
}

build_selftests()
{
	local start=$SECONDS dir targets
	for dir in $(selftests_wanted | cut -d' ' -f1 | sort -u); do
		targets=$(selftests_wanted | awk -v d="$dir" -v o="$KST/$dir" '$1 == d { print o "/" $2 }')
		log "building selftests/$dir: $(echo $targets | wc -w) programs"
		mkdir -p "$KST/$dir"
		run_logged "selftests/$dir" "$KST/$dir.log" \
			make -C "$KSRC/tools/testing/selftests/$dir" -j"$JOBS" \
				OUTPUT="$KST/$dir" CC="ccache gcc" \
				KHDR_INCLUDES="-isystem $KOBJ/usr/include" $targets || exit 1
	done
	log "selftests built in $((SECONDS - start))s"
}

# The mm selftests probe for libraries by writing these into their source
# directory; remove them however the build ends.
trap 'rm -f "$KSRC"/tools/testing/selftests/mm/local_config.{h,mk}' EXIT

take_cache_lock
mkdir -p "$CCACHE_DIR"
configure
build_kernel
# A flavour is a second kernel for the same tests: the default tree has them.
[ -n "${GMEM_FLAVOUR:-}" ] || build_selftests
