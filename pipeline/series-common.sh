# SPDX-License-Identifier: GPL-2.0
# Shared by series.sh and series-check.sh; sourced, never run.
#
# The series is committed on a git repository of the base tree, kept
# under the cache as $TREE/series/src (its objects in $TREE/series/obj),
# so that series-check builds the same paths incrementally every time.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

set_tree_paths
OVERLAY_FILES=$(overlay_files)
SERIES_SRC=$TREE/series/src

git_series() { git -C "$SERIES_SRC" "$@"; }

# $1: directory to create, $2: tree or tarball to fill it from, $3: the
# base commit's message.  The base is committed once, tagged "base".
make_base_git()
{
	local dir=$1 from=$2 what=$3
	[ -f "$dir/.git/gmem-base-complete" ] && return 0
	log "making a git repository of $what in $dir (a few minutes, once)"
	rm -rf "$dir" "$dir.tmp"
	mkdir -p "$dir.tmp"
	if [ -d "$from" ]; then
		cp -a "$from/." "$dir.tmp/"
		rm -f "$dir.tmp/.complete"
	else
		tar -xf "$from" -C "$dir.tmp" --strip-components=1
	fi
	(
		cd "$dir.tmp"
		git init -q -b base-tree
		git config core.autocrlf false
		# Files the base's .gitignore matches are part of the base too.
		git add -A -f
		GIT_AUTHOR_DATE=2000-01-01T00:00:00Z GIT_COMMITTER_DATE=2000-01-01T00:00:00Z \
			git -c user.name=base -c user.email=base@localhost \
			commit -q -m "$what"
		git tag base
		touch .git/gmem-base-complete
	)
	mv "$dir.tmp" "$dir"
}

ensure_series_git()
{
	[ -f "$PRISTINE/.complete" ] || die "no unpacked base in $PRISTINE: run 'make tree' first"
	make_base_git "$SERIES_SRC" "$PRISTINE" "$KSRC_PKG $KVER"
}
