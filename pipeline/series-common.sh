# SPDX-License-Identifier: GPL-2.0
# Shared by series.sh and series-check.sh; sourced, never run.
#
# The series is committed on a git repository of the base tree, kept
# under the cache as $TREE/series/src (its objects in $TREE/series/obj),
# so that series-check builds the same paths incrementally every time.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

set_tree_paths
# The repository's kernel files: read_overlay_files, once the cache lock
# is held (the list depends on the unpacked base).
OVERLAY_FILES=""
read_overlay_files() { OVERLAY_FILES=$(overlay_files); }
SERIES_SRC=$TREE/series/src
STEPS=$REPO/series
# Scratch space of this run, removed however the run ends.
SERIES_TMP=$(mktemp -d)
trap 'rm -rf "$SERIES_TMP"' EXIT

# Without the user's git config (diff.noprefix, format.*, commit.gpgsign
# would change the series): only the repository's own settings count.
git_series() { base_git "$SERIES_SRC" "$@"; }

ensure_series_git()
{
	[ -f "$PRISTINE/.complete" ] || die "no unpacked base in $PRISTINE: run 'make tree' first"
	make_base_git "$SERIES_SRC" "$PRISTINE" "$KSRC_PKG $KVER"
}

# Content of repository file $1 at step $2 ("" for final) into $3.
content_at()
{
	local f=$1 nn=$2 dst=$3 t=${1%.patch} d
	mkdir -p "$(dirname "$dst")"
	if [ "$f" != "$t" ]; then
		cp "$PRISTINE/$t" "$dst"
		patch -s -F0 -f -N --no-backup-if-mismatch -r - -o "$dst.new" "$dst" <"$REPO/$f" >/dev/null ||
			die "$f does not apply to the base"
		mv "$dst.new" "$dst"
	else
		cp "$REPO/$f" "$dst"
	fi
	[ -n "$nn" ] || return 0
	d=$STEPS/interim/$nn/$t.diff
	[ -f "$d" ] || die "series/$nn: $f is marked interim but series/interim/$nn/$t.diff is missing"
	patch -s -F0 -f -N --no-backup-if-mismatch -r - -o "$dst.new" "$dst" <"$d" >/dev/null ||
		die "series/interim/$nn/$t.diff no longer applies to the final $t: remake it as 'diff -u final interim' (docs/series.md)"
	mv "$dst.new" "$dst"
}

# 0 when the checkout of git repository $1, at its commit $2, holds
# exactly the final content of every kernel file of this repository and
# changes no other file of the base; prints what differs.
is_final_tree()
{
	local dir=$1 rev=$2 x=$SERIES_TMP/final p bad=0 changed targets
	for p in $OVERLAY_FILES; do
		content_at "$p" "" "$x"
		cmp -s "$x" "$dir/${p%.patch}" || { echo "  differs: ${p%.patch}" >&2; bad=1; }
	done
	changed=$(base_git "$dir" diff --name-only base "$rev" | sort)
	targets=$(printf '%s\n' $OVERLAY_FILES | sed 's/\.patch$//' | sort -u)
	[ "$changed" = "$targets" ] ||
		{ echo "  files changed (>) or not (<) unlike the repository's:" >&2
		  diff <(echo "$targets") <(echo "$changed") >&2; bad=1; }
	return $bad
}
