#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Write edits made in the assembled tree back into the repository: a new
# file as itself, a changed upstream file as <path>.patch, a file that
# matches the base again by removing its overlay.  An existing patch that
# still produces the tree's content is left byte-for-byte alone.
set -euo pipefail
. "$(dirname "$0")/common.sh"

set_tree_paths
[ -f "$KSRC/.complete" ] || die "no assembled tree yet (run 'make tree')"

is_junk()
{
	case "$1" in
	*.orig|*.rej|*~|*.swp|*.o|*.cmd|*/.*.swp|*/.#*) return 0 ;;
	# Written by the mm selftests' Makefile into its source directory.
	tools/testing/selftests/mm/local_config.*) return 0 ;;
	esac
	return 1
}

# The patch in the repository already turns pristine into src?
patch_matches()
{
	local f=$1 p=$2 tmp ok=1
	[ -f "$REPO/$p" ] || return 1
	tmp=$(mktemp -d)
	mkdir -p "$tmp/$(dirname "$f")"
	cp "$PRISTINE/$f" "$tmp/$f"
	if patch -s -p1 -d "$tmp" -F0 -f --no-backup-if-mismatch -r - <"$REPO/$p" >/dev/null 2>&1 &&
	   cmp -s "$tmp/$f" "$KSRC/$f"; then
		ok=0
	fi
	rm -rf "$tmp"
	return $ok
}

write_patch()
{
	local f=$1
	patch_matches "$f" "$f.patch" && return 0
	mkdir -p "$REPO/$(dirname "$f")"
	diff -u --label "a/$f" --label "b/$f" "$PRISTINE/$f" "$KSRC/$f" >"$REPO/$f.patch" || true
	log "wrote $f.patch"
}

write_new_file()
{
	local f=$1
	cmp -s "$KSRC/$f" "$REPO/$f" 2>/dev/null && return 0
	mkdir -p "$REPO/$(dirname "$f")"
	cp "$KSRC/$f" "$REPO/$f"
	log "wrote $f"
}

take_cache_lock
changed=$(rsync -a --delete --dry-run --itemize-changes "$PRISTINE/" "$KSRC/" |
	  awk '/^\*deleting/ { sub(/^\*deleting +/, ""); print "new " $0; next }
	       /^>f\+\+\+/  { sub(/^[^ ]+ /, ""); print "gone " $0; next }
	       /^>f/         { sub(/^[^ ]+ /, ""); print "mod " $0 }')

while read -r what f; do
	[ -n "$what" ] || continue
	case "$f" in */) continue ;; esac
	is_junk "$f" && continue
	case "$what" in
	new)  write_new_file "$f" ;;
	mod)  cmp -s "$PRISTINE/$f" "$KSRC/$f" || write_patch "$f" ;;
	gone) die "$f was deleted from the tree: removing upstream files is not supported" ;;
	esac
done <<<"$changed"

# Overlays whose target is back to the base's content (or gone) go away.
for f in $(overlay_files); do
	case "$f" in
	*.patch) t=${f%.patch}
		 cmp -s "$PRISTINE/$t" "$KSRC/$t" || continue ;;
	*)	 [ -e "$KSRC/$f" ] && continue ;;
	esac
	rm -f "$REPO/$f"
	log "removed $f (the tree matches the base there again)"
done
log "refresh done; review with 'git status' and 'git diff'"
