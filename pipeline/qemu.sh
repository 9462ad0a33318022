#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build QEMU from Debian's qemu source (bookworm-backports) with
# qemu-patches/series applied, x86_64-softmmu only, into a cache outside the
# clone keyed by the source's checksum and the series' content: an
# unchanged pair is not rebuilt.  Prints the path of qemu-system-x86_64.
#
# The source is the orig tarball of the version apt offers, checked against
# the SHA-256 in apt's Sources index.  Debian's packaging (.dsc and
# debian.tar.xz) is used when it can be fetched; this network serves only
# the orig tarball, so the build says which it used.
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/qemu-source.sh"

SERIES_DIR=$REPO/qemu-patches
# The fetched source and the build directories are shared by every clone.
take_cache_lock

qemu_orig

series_sum=$( (cd "$SERIES_DIR" && cat series && grep -v '^#' series | xargs -r cat) | sha256sum | cut -c1-16)
OUT=$GMEM_CACHE/qemu-build/$upstream-${sum:0:12}-$series_sum
QEMU_BIN=$OUT/install/bin/qemu-system-x86_64
if [ -x "$QEMU_BIN" ]; then
	log "QEMU $upstream with the series ($series_sum) already built"
	echo "$QEMU_BIN"
	exit 0
fi

rm -rf "$OUT"
mkdir -p "$OUT"
log "unpacking $orig"
tar -xJf "$SRC_CACHE/$orig" -C "$OUT"
SRC=$(find "$OUT" -mindepth 1 -maxdepth 1 -type d -name 'qemu-*' | head -n1)
debian_tar=$(ls "$SRC_CACHE"/qemu_"${version#*:}".debian.tar.* 2>/dev/null | head -n1 || true)
if [ -n "$debian_tar" ]; then
	log "applying Debian's patches from $(basename "$debian_tar")"
	tar -xf "$debian_tar" -C "$SRC"
	(cd "$SRC" && QUILT_PATCHES=debian/patches quilt push -aq) ||
		die "Debian's patch series does not apply"
else
	log "Debian's packaging for $version could not be fetched: building the orig tarball"
fi

grep -vE '^[[:space:]]*(#|$)' "$SERIES_DIR/series" | while read -r p; do
	log "applying qemu-patches/$p"
	patch -d "$SRC" -p1 --fuzz=0 --no-backup-if-mismatch -s <"$SERIES_DIR/$p" ||
		die "qemu-patches/$p does not apply to qemu $version"
done

qemu_no_edk2_blobs "$SRC"
log "configuring (x86_64-softmmu)"
mkdir -p "$SRC/build"
# The +ds tarball has no bundled meson wheel: Debian builds with the
# system's meson (>= 1.5, from bookworm-backports) and /usr/bin/python3;
# it has no firmware blobs either: the installed qemu-system-data provides
# them at run time (-L /usr/share/qemu).
(cd "$SRC/build" && ../configure --prefix="$OUT/install" "${QEMU_CONFIGURE[@]}" \
	>"$OUT/configure.log" 2>&1) || { tail -20 "$OUT/configure.log" >&2; die "configure failed"; }
[ -z "${QEMU_CONFIGURE_ONLY:-}" ] || { log "configured in $SRC/build"; exit 0; }
log "building qemu-system-x86_64 (progress in $OUT/build.log)"
# Paths relative to the build directory, so that a new series (a new
# directory) still hits ccache for every file it does not change.
export CCACHE_BASEDIR=$OUT CCACHE_NOHASHDIR=true
start=$SECONDS
(cd "$SRC/build" && ninja -j"$(nproc)" qemu-system-x86_64 >"$OUT/build.log" 2>&1) ||
	{ tail -30 "$OUT/build.log" >&2; die "QEMU build failed"; }
install -D -m 755 "$SRC/build/qemu-system-x86_64" "$QEMU_BIN"
log "QEMU built in $((SECONDS - start))s: $QEMU_BIN"
# Each series gets its own directory (784 MiB here): keep the two newest.
ls -1dt "$GMEM_CACHE"/qemu-build/*/ | tail -n +3 | while read -r old; do
	log "removing an older QEMU build: $old"
	rm -rf "$old"
done
echo "$QEMU_BIN"
