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

# Without the user's git config (diff.noprefix, format.*, commit.gpgsign
# would change the series): only the repository's own settings count.
git_series() { base_git "$SERIES_SRC" "$@"; }

ensure_series_git()
{
	[ -f "$PRISTINE/.complete" ] || die "no unpacked base in $PRISTINE: run 'make tree' first"
	make_base_git "$SERIES_SRC" "$PRISTINE" "$KSRC_PKG $KVER"
}
