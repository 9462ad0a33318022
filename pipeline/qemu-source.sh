# SPDX-License-Identifier: GPL-2.0
# The QEMU source: the orig tarball of the newest qemu source package apt
# offers (bookworm-backports), checked against the SHA-256 in apt's
# Sources index.  Sourced by qemu.sh and qemu-series-check.sh.

SRC_CACHE=$GMEM_CACHE/qemu-src

# Sets version, upstream, orig (the tarball's name, in $SRC_CACHE) and sum,
# fetching the tarball when the cache lacks it.
qemu_orig()
{
	local index
	# Read once: awk stopping at its match would kill apt-cache with SIGPIPE.
	index=$(apt-cache showsrc qemu 2>/dev/null || true)

	version=$(sed -n 's/^Version: //p' <<<"$index" | sort -V | tail -n1)
	[ -n "$version" ] || die "apt knows no qemu source package (deb-src for bookworm-backports: make deps)"
	upstream=${version#*:}
	upstream=${upstream%-*}
	orig=qemu_$upstream.orig.tar.xz
	sum=$(awk -v f="$orig" '/^Checksums-Sha256:/ { on = 1; next }
		/^[^ ]/ { on = 0 } on && $3 == f { print $1; exit }' <<<"$index")
	[ -n "$sum" ] || die "no SHA-256 for $orig in apt's Sources index"

	mkdir -p "$SRC_CACHE"
	if ! echo "$sum  $SRC_CACHE/$orig" | sha256sum -c --quiet 2>/dev/null; then
		log "fetching qemu $version source"
		(cd "$SRC_CACHE" && apt-get source --download-only "qemu=$version" >/dev/null 2>&1) || true
		echo "$sum  $SRC_CACHE/$orig" | sha256sum -c --quiet ||
			die "could not fetch $orig with the checksum apt expects"
	fi
}

# configure's options for the x86_64 system emulator with KVM, nothing else.
QEMU_CONFIGURE=(--target-list=x86_64-softmmu
	--python=/usr/bin/python3 --disable-download --disable-install-blobs
	--cc="ccache gcc" --enable-kvm --disable-docs --disable-werror
	--disable-gtk --disable-sdl --disable-vnc --disable-opengl --disable-curses
	--disable-libusb --disable-usb-redir --disable-spice --disable-xen --disable-tools)

# The +ds tarball carries no edk2 firmware (Debian builds that in its own
# package); meson would unpack it whenever bzip2 exists.  $1: the source.
qemu_no_edk2_blobs()
{
	sed -i 's/^  *unpack_edk2_blobs = bzip2.found()$/    unpack_edk2_blobs = false/' "$1/meson.build"
	grep -q 'unpack_edk2_blobs = false$' "$1/meson.build" ||
		die "meson.build: cannot turn off the edk2 blobs"
}
