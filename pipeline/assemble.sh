#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Assemble the kernel tree: Debian's linux-source-6.12 + this repository.
#
# New files are copied, every <path>.patch is applied to <path>.  A file in
# the assembled tree is only rewritten when its content changes, and every
# file put back to the base's content is touched, so kbuild rebuilds exactly
# what changed, also from a fresh clone.  Edits made in the tree but not yet
# written back with 'make refresh' stop the run instead of being lost
# (CI, or GMEM_DISCARD_TREE_EDITS=1, discards them with a warning).
set -euo pipefail
. "$(dirname "$0")/common.sh"

set_tree_paths
STAGE=$TREE/stage		# what the tree must hold for this repository
ASSEMBLED=$TREE/assembled	# what the last run put there
MANIFEST=$TREE/overlay.list	# paths the last run overlaid

ensure_pristine()
{
	[ -f "$PRISTINE/.complete" ] && return 0
	[ -f "$KSRC_TARBALL" ] || die "$KSRC_TARBALL missing (run 'make deps')"
	log "unpacking $KSRC_PKG $KVER (~15 s)"
	rm -rf "$PRISTINE" "$PRISTINE.tmp"
	mkdir -p "$PRISTINE.tmp"
	tar -xf "$KSRC_TARBALL" -C "$PRISTINE.tmp" --strip-components=1
	touch "$PRISTINE.tmp/.complete"
	mv "$PRISTINE.tmp" "$PRISTINE"
}

ensure_src()
{
	[ -f "$KSRC/.complete" ] && return 0
	log "creating the working tree $KSRC"
	rm -rf "$KSRC"
	cp -a "$PRISTINE" "$KSRC"
	: >"$MANIFEST"
	rm -rf "$ASSEMBLED"
}

copy_in() { mkdir -p "$(dirname "$2")" && cp --preserve=mode "$1" "$2"; }

# $1: repo path of a patch, $2: the file it must change.  One patch, one file.
check_patch_target()
{
	local patch=$1 target=$2 bad
	bad=$(grep -E '^(\+\+\+|---) ' "$REPO/$patch" |
	      grep -vE "^(--- a/|\+\+\+ b/)$(printf '%s' "$target" | sed 's/[.[\*^$]/\\&/g')([[:space:]]|$)" || true)
	[ -z "$bad" ] || die "$patch: must only change a/$target -> b/$target, found: $bad"
}

stage_patch()
{
	local f=$1 t=${1%.patch} out rej
	[ -f "$PRISTINE/$t" ] || die "$f: $t does not exist in $KSRC_PKG $KVER"
	check_patch_target "$f" "$t"
	copy_in "$PRISTINE/$t" "$STAGE/$t"
	rej=$(mktemp)
	if ! out=$(patch -p1 -d "$STAGE" -F0 -f -N --no-backup-if-mismatch -r "$rej" <"$REPO/$f" 2>&1); then
		printf '%s\n' "$out" >&2
		printf -- '--- rejected hunks of %s:\n' "$f" >&2
		cat "$rej" >&2
		rm -f "$rej"
		die "patch $f does not apply to $KSRC_PKG $KVER"
	fi
	rm -f "$rej"
}

stage_new_file()
{
	local f=$1
	[ -e "$PRISTINE/$f" ] &&
		die "$f exists in $KSRC_PKG: commit $f.patch instead of a copy"
	[ -e "$REPO/$f.patch" ] && die "$f: both a new file and $f.patch"
	copy_in "$REPO/$f" "$STAGE/$f"
}

# Paths the tree must hold from the overlay, one per line.
stage_overlay()
{
	local f
	rm -rf "$STAGE"
	mkdir -p "$STAGE"
	OVERLAY_FILES=$(overlay_files)
	TARGETS=""
	for f in $OVERLAY_FILES; do
		case "$f" in
		*.patch) stage_patch "$f"; TARGETS+="${f%.patch}"$'\n' ;;
		*)	 stage_new_file "$f"; TARGETS+="$f"$'\n' ;;
		esac
	done
	TARGETS=$(printf '%s' "$TARGETS" | sort -u)
}

same() { cmp -s "$1" "$2" 2>/dev/null; }
# Both absent also counts as the same.
same_or_absent() { { [ ! -e "$1" ] && [ ! -e "$2" ]; } || same "$1" "$2"; }

# $@: files listing paths rsync must leave alone.
excludes_file()
{
	local x
	x=$(mktemp)
	cat "$@" | sort -u | sed '/^$/d; s|^|/|' >"$x"
	echo "$x"
}

# Paths where src may differ from pristine outside the excluded ones, as
# "mod <path>" (in pristine) or "del <path>" (only in src).  rsync's quick
# check (size, mtime) proposes them; callers compare contents.
#   $@: files listing the paths to exclude
base_diffs()
{
	local x
	x=$(excludes_file "$@")
	rsync -a --delete --dry-run --itemize-changes --exclude-from="$x" \
		"$PRISTINE/" "$KSRC/" |
		awk '/^\*deleting/ { sub(/^\*deleting +/, ""); print "del " $0; next }
		     /^[>c][fL]/ { sub(/^[^ ]+ /, ""); print "mod " $0 }'
	rm -f "$x"
}

find_tree_edits()
{
	local p
	while read -r p; do
		[ -n "$p" ] || continue
		if grep -qxF "$p" "$MANIFEST"; then
			same_or_absent "$KSRC/$p" "$ASSEMBLED/$p" ||
				same_or_absent "$KSRC/$p" "$STAGE/$p" || echo "$p"
		else
			same_or_absent "$KSRC/$p" "$STAGE/$p" ||
				same_or_absent "$KSRC/$p" "$PRISTINE/$p" || echo "$p"
		fi
	done < <({ cat "$MANIFEST"; printf '%s\n' "$TARGETS"; } | sort -u)
	# Overlay paths, old and new, were checked above.
	while read -r _ p; do
		case "$p" in */) continue ;; esac
		same_or_absent "$KSRC/$p" "$PRISTINE/$p" || echo "$p"
	done < <(base_diffs "$MANIFEST" <(printf '%s\n' "$TARGETS"))
}

check_tree_edits()
{
	local edits
	edits=$(find_tree_edits | sort -u)
	[ -z "$edits" ] && return 0
	printf '  %s\n' $edits >&2
	if [ "${CI:-}" = true ] || [ "${GMEM_DISCARD_TREE_EDITS:-0}" = 1 ]; then
		log "WARNING: discarding the edits above in $KSRC"
		return 0
	fi
	die "the files above were edited in $KSRC but not written back: run 'make refresh' to keep them, or 'make reset-tree' to discard them"
}

# Put everything outside the new overlay back to the base.  A dropped
# overlay file gets the base's content with a new mtime, newer than the
# objects built from the overlay; files whose content already matches are
# not touched, so they are not rebuilt on every run.
restore_base()
{
	local what p
	while read -r what p; do
		case "$what" in
		del) rm -rf "${KSRC:?}/$p" ;;
		mod) same "$PRISTINE/$p" "$KSRC/$p" && continue
		     rm -f "$KSRC/$p"
		     copy_in "$PRISTINE/$p" "$KSRC/$p" ;;
		esac
		echo "$p"
	done < <(base_diffs <(printf '%s\n' "$TARGETS"))
}

apply_overlay()
{
	local p changed
	changed=$(restore_base | grep -vc '/$' || true)
	for p in $TARGETS; do
		same "$STAGE/$p" "$KSRC/$p" && continue
		rm -f "$KSRC/$p"
		copy_in "$STAGE/$p" "$KSRC/$p"
		changed=$((changed + 1))
	done
	rsync -a --delete "$STAGE/" "$ASSEMBLED/"
	printf '%s\n' "$TARGETS" | sed '/^$/d' >"$MANIFEST"
	log "tree ready: $KSRC ($(printf '%s\n' "$OVERLAY_FILES" | grep -c '\.patch$' || true) patches, $(printf '%s\n' "$OVERLAY_FILES" | grep -vc -e '\.patch$' -e '^$' || true) new files, $changed files rewritten)"
}

take_cache_lock
log "base: $KSRC_PKG $KVER"
ensure_pristine
ensure_src
[ -f "$MANIFEST" ] || : >"$MANIFEST"
mkdir -p "$ASSEMBLED"
stage_overlay
check_tree_edits
apply_overlay
mkdir -p "$REPO/build"
ln -sfn "$KSRC" "$REPO/build/linux"
