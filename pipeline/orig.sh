# SPDX-License-Identifier: GPL-2.0
# BASE=orig for series-check.sh: the .orig tarball of the Debian source
# package that builds linux-source-6.12, as a git repository in the
# cache.  Sourced by series-check.sh, never run.
#
# Debian's source packages need a deb-src line, which this adds for the
# suites linux-source-6.12 comes from (bookworm and bookworm-security).
# The tarball is checked against the SHA-256 in apt's Sources index.

SRC_LIST=/etc/apt/sources.list.d/gmem-pool-kernel-src.sources
SRC_PKG=$(dpkg-query -W -f '${source:Package}' "$KSRC_PKG" 2>/dev/null || echo linux-6.12)
ORIG_VERSION=${ORIG_VERSION:-${KVER%%-*}}
ORIG_DIR=$GMEM_CACHE/linux-orig-$ORIG_VERSION
ORIG_SRC=$ORIG_DIR/src
ORIG_OBJ=$ORIG_DIR/obj
ORIG_TARBALL=$GMEM_CACHE/orig/${SRC_PKG}_$ORIG_VERSION.orig.tar.xz

add_deb_src()
{
	apt-cache showsrc "$SRC_PKG" 2>/dev/null | grep -q '^Version:' && return 0
	[ "$(id -u)" -eq 0 ] || die "apt has no deb-src for $SRC_PKG: add one (as root) or run this as root"
	log "adding deb-src lines for $SRC_PKG ($SRC_LIST) and running apt-get update"
	cat >"$SRC_LIST" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get update -q >/dev/null || die "apt-get update failed"
}

# The upstream versions of the .orig tarballs apt's Sources index lists.
known_origs()
{
	grep -o "${SRC_PKG}_[0-9.]*\.orig\.tar\.xz" <<<"$1" |
		sed "s/^${SRC_PKG}_//; s/\.orig\.tar\.xz$//" | sort -uV | tr '\n' ' '
}

fetch_orig()
{
	local index name sum debver url
	add_deb_src
	index=$(apt-cache showsrc "$SRC_PKG")
	name=$(basename "$ORIG_TARBALL")
	sum=$(awk -v f="$name" '/^Checksums-Sha256:/ { on = 1; next }
		/^[^ ]/ { on = 0 } on && $3 == f { print $1; exit }' <<<"$index")
	[ -n "$sum" ] || die "apt's Sources index has no $name; it lists: $(known_origs "$index")"
	echo "$sum  $ORIG_TARBALL" | sha256sum -c --quiet >/dev/null 2>&1 && return 0
	debver=$(awk -v f="$name" '/^Version: / { v = $2 } /^ / && $3 == f { print v; exit }' <<<"$index")
	url=$(cd /tmp && apt-get source --print-uris -qq "$SRC_PKG=$debver" 2>/dev/null |
		awk -v f="$name" '$2 == f { gsub(/'\''/, "", $1); print $1 }')
	[ -n "$url" ] || die "apt gives no address for $name"
	log "fetching $name (about 150 MB) from $url"
	mkdir -p "$(dirname "$ORIG_TARBALL")"
	curl -fsS -o "$ORIG_TARBALL.part" "$url" ||
		die "could not fetch $url; ORIG_VERSION=<version> takes another .orig apt lists: $(known_origs "$index")"
	echo "$sum  $ORIG_TARBALL.part" | sha256sum -c --quiet ||
		die "$name does not have the SHA-256 apt's Sources index gives"
	mv "$ORIG_TARBALL.part" "$ORIG_TARBALL"
}

ensure_orig_git()
{
	[ -f "$ORIG_SRC/.git/gmem-base-complete" ] || fetch_orig
	make_base_git "$ORIG_SRC" "$ORIG_TARBALL" "$SRC_PKG $ORIG_VERSION .orig (upstream $ORIG_VERSION as Debian packs it)"
}

# Files the series changes whose base differs between the .orig and
# Debian's tree: Debian's own patches (or another stable release).
orig_report()
{
	local p n=0 diffs=""
	while read -r p; do
		[ -f "$PRISTINE/$p" ] || continue
		git -C "$ORIG_SRC" cat-file -e "base:$p" 2>/dev/null || { diffs+="  $p (not in the .orig)"$'\n'; continue; }
		git -C "$ORIG_SRC" show "base:$p" | cmp -s - "$PRISTINE/$p" && continue
		diffs+="  $p"$'\n'
		n=$((n + 1))
	done <"$TREE/overlay.list"
	if [ -n "$diffs" ]; then
		log "files the series changes that differ between the .orig $ORIG_VERSION and $KSRC_PKG $KVER (Debian's patches, or stable releases between them):"
		printf '%s' "$diffs" >&2
	else
		log "every file the series changes is the same in the .orig $ORIG_VERSION and $KSRC_PKG $KVER"
	fi
}
