#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Every new kernel .c and .h file of this repository passes the base
# tree's scripts/kernel-doc -none -Wall with no warning.  Given files
# (paths from the repository root), checks those instead.  Exits 4 (skip)
# when there is nothing to check.
set -euo pipefail
. "$(dirname "$0")/../common.sh"

set_tree_paths
if [ $# -gt 0 ]; then
	files=("$@")
else
	mapfile -t files < <(overlay_files | grep -E '\.[ch]$' | grep -v '^tools/' || true)
fi
if [ ${#files[@]} -eq 0 ]; then
	echo "SKIP: no kernel .c or .h files in the repository"
	exit 4
fi

bad=0
for f in "${files[@]}"; do
	out=$(cd "$REPO" && perl "$PRISTINE/scripts/kernel-doc" -none -Wall "$f" 2>&1 || true)
	if [ -n "$out" ]; then
		echo "$out"
		bad=$((bad + 1))
	fi
done
echo "kernel-doc -none -Wall: ${#files[@]} files, $bad with warnings"
[ "$bad" -eq 0 ]
