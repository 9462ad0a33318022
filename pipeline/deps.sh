#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the pipeline needs, only those that are missing.
set -euo pipefail
. "$(dirname "$0")/common.sh"

BACKPORTS_LIST=/etc/apt/sources.list.d/gmem-pool-bookworm-backports.sources
PKGS=(linux-source-6.12 linux-config-6.12 build-essential flex bison bc libelf-dev libssl-dev
      ccache cpio kmod rsync xz-utils patch python3 util-linux libcap-dev
      libglib2.0-dev libpixman-1-dev libfdt-dev python3-venv ninja-build pkg-config
      gnuplot-nox python3-ply python3-git)
QEMU_PKG=qemu-system-x86
QEMU_MIN_MAJOR=10

installed() { dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

qemu_major()
{
	local v
	installed "$QEMU_PKG" || { echo 0; return; }
	v=$(dpkg-query -W -f '${Version}' "$QEMU_PKG")
	v=${v#*:}
	echo "${v%%.*}"
}

# QEMU 10's build needs meson >= 1.5: bookworm has 1.0, backports 1.7.
meson_ok()
{
	local v
	installed meson && installed python3-pycotap || return 1
	v=$(dpkg-query -W -f '${Version}' meson)
	dpkg --compare-versions "$v" ge 1.5
}

have_backports()
{
	grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/
}

missing=()
for p in "${PKGS[@]}"; do
	installed "$p" || missing+=("$p")
done
want_qemu=0
[ "$(qemu_major)" -ge "$QEMU_MIN_MAJOR" ] || want_qemu=1
want_meson=0
meson_ok || want_meson=1

if [ ${#missing[@]} -eq 0 ] && [ $want_qemu -eq 0 ] && [ $want_meson -eq 0 ]; then
	log "all packages present ($(dpkg-query -W -f '${Version}' $QEMU_PKG) QEMU, $KSRC_PKG $(ksrc_version))"
	exit 0
fi

[ "$(id -u)" -eq 0 ] ||
	die "missing packages: ${missing[*]} ${want_qemu:+$QEMU_PKG>=$QEMU_MIN_MAJOR}; run 'make deps' as root"

export DEBIAN_FRONTEND=noninteractive
if ! have_backports; then
	log "adding bookworm-backports (QEMU $QEMU_MIN_MAJOR.x and its source)"
	cat >"$BACKPORTS_LIST" <<SRC
Types: deb deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
log "apt-get update"
apt-get update -q >/dev/null || die "apt-get update failed"
if [ ${#missing[@]} -gt 0 ]; then
	log "installing: ${missing[*]}"
	apt-get install -y -q --no-install-recommends "${missing[@]}" ||
		die "apt-get install failed for: ${missing[*]}"
fi
if [ $want_meson -eq 1 ]; then
	log "installing meson and pycotap from bookworm-backports (QEMU 10's configure wants meson >= 1.5)"
	apt-get install -y -q --no-install-recommends -t bookworm-backports meson python3-pycotap ||
		die "apt-get install -t bookworm-backports meson python3-pycotap failed"
fi
if [ $want_qemu -eq 1 ]; then
	log "installing $QEMU_PKG from bookworm-backports"
	apt-get install -y -q --no-install-recommends -t bookworm-backports "$QEMU_PKG" ||
		die "apt-get install -t bookworm-backports $QEMU_PKG failed"
fi
[ "$(qemu_major)" -ge "$QEMU_MIN_MAJOR" ] || die "$QEMU_PKG is older than $QEMU_MIN_MAJOR.0"
log "packages ready"
