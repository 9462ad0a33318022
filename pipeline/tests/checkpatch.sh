#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Every new kernel file and every <path>.patch of this repository passes
# the base tree's scripts/checkpatch.pl (default severity).  Exits 4 (skip)
# when there is nothing to check.
set -euo pipefail
. "$(dirname "$0")/../common.sh"

set_tree_paths
# checkpatch validates SPDX license ids with scripts/spdxcheck.py only in a
# kernel git tree; neither this repository nor the unpacked base is one, so
# say so plainly.  The SPDX tag itself is still checked.
CP=(env GIT_DIR=/nonexistent perl "$PRISTINE/scripts/checkpatch.pl" --root="$PRISTINE" --no-signoff
    --quiet --terse --show-types --color=never)
IGNORE=$REPO/pipeline/checkpatch.ignore
files=$(overlay_files)
if [ -z "$files" ]; then
	echo "SKIP: no kernel files or patches in the repository yet"
	exit 4
fi

bad=0 n=0
for f in $files; do
	n=$((n + 1))
	rc=0
	extra=$(awk -v f="$f" '$1 == f { print $2 }' "$IGNORE")
	case "$f" in
	# A per-file patch has no commit message: that lives in git.
	*.patch) out=$("${CP[@]}" --ignore "COMMIT_MESSAGE${extra:+,$extra}" "$REPO/$f" 2>&1) || rc=$? ;;
	*)	 out=$(cd "$REPO" && "${CP[@]}" --ignore "FILE_PATH_CHANGES${extra:+,$extra}" -f "$f" 2>&1) || rc=$? ;;
	esac
	if [ $rc -ne 0 ]; then
		echo "not ok $n - $f"
		printf '%s\n' "$out" | sed 's/^/    /'
		bad=$((bad + 1))
	else
		echo "ok $n - $f"
	fi
done
echo "$((n - bad)) passed, $bad failed"
[ $bad -eq 0 ]
