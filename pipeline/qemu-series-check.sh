#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make qemu-series-check: git am each patch of qemu-patches/series on the
# QEMU source qemu.sh builds (Debian's orig tarball), run QEMU's
# scripts/checkpatch.pl on it, and build qemu-system-x86_64 after it.
#
# The source is a git repository under the cache with its build directory
# inside (build/, as qemu.sh has it), so ccache serves every file a patch
# does not change.  Fails naming the first patch that does not apply or
# build; checkpatch errors fail the patch, warnings are listed.
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/qemu-source.sh"

SERIES_DIR=$REPO/qemu-patches
QDIR=$GMEM_CACHE/qemu-series

# Before the source repository is made or touched: one run at a time.
take_cache_lock
qemu_orig
SRC=$QDIR/qemu-$upstream
make_base_git "$SRC" "$SRC_CACHE/$orig" "qemu $upstream (orig tarball of qemu $version)"
export CCACHE_BASEDIR=$QDIR CCACHE_NOHASHDIR=true

mapfile -t SERIES < <(grep -vE '^[[:space:]]*(#|$)' "$SERIES_DIR/series")
[ ${#SERIES[@]} -gt 0 ] || die "qemu-patches/series lists no patch"

# $1: patch.  Prints checkpatch's findings; 1 on an error.
check_style()
{
	local out
	out=$(cd "$SRC" && perl scripts/checkpatch.pl --no-color "$1" 2>&1 || true)
	printf '%s\n' "$out" | grep -E '^(ERROR|WARNING): ' | sed 's/^/    /' || true
	printf '%s\n' "$out" | grep -qE '^total: 0 errors' && return 0
	printf '%s\n' "$out" | grep -E '^total: ' | sed 's/^/    /' >&2
	return 1
}

build()
{
	local what=$1 start=$SECONDS
	if [ ! -f "$SRC/build/build.ninja" ]; then
		log "configuring (x86_64-softmmu)"
		mkdir -p "$SRC/build"
		(cd "$SRC/build" && ../configure --prefix="$QDIR/install" "${QEMU_CONFIGURE[@]}" \
			>"$QDIR/configure.log" 2>&1) ||
			{ tail -20 "$QDIR/configure.log" >&2; die "configure failed"; }
	fi
	(cd "$SRC/build" && ninja -j"$JOBS" qemu-system-x86_64 >"$QDIR/build.log" 2>&1) ||
		{ tail -30 "$QDIR/build.log" >&2; die "$what does not build (log: $QDIR/build.log)"; }
	log "$what built in $((SECONDS - start))s"
}

reset_to_base "$SRC" /build/
log "checking ${#SERIES[@]} QEMU patches on qemu $upstream"
failed_style=""
start=$SECONDS
for p in "${SERIES[@]}"; do
	# meson.build carries qemu_no_edk2_blobs()'s edit only while building.
	git -C "$SRC" checkout -q -- meson.build
	if ! out=$(base_git "$SRC" -c user.name=check -c user.email=check@localhost \
			am --no-3way -q "$SERIES_DIR/$p" 2>&1); then
		printf '%s\n' "$out" >&2
		git -C "$SRC" am --abort >/dev/null 2>&1 || true
		die "qemu-patches/$p does not apply to qemu $upstream"
	fi
	log "$p: applied"
	check_style "$SERIES_DIR/$p" || failed_style+="$p "
	qemu_no_edk2_blobs "$SRC"
	build "$p"
done
git -C "$SRC" checkout -q -- meson.build
[ -z "$failed_style" ] || die "QEMU checkpatch: errors in $failed_style"
log "qemu-series-check: ${#SERIES[@]} patches applied, checkpatch without errors, each built, in $((SECONDS - start))s"
