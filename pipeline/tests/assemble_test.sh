#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host test of assemble.sh and refresh.sh on a tiny fake base and a scratch
# repository: overlays land, unchanged files keep their mtime, tree edits
# are refused then written back, dropped overlays are restored and
# touched, and bad patches stop the run naming the file.
set -euo pipefail
P=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

export GMEM_CACHE=$T/cache GMEM_REPO=$T/repo GMEM_KVER=0.0-test
export GMEM_KSRC_TARBALL=$T/linux-source-test.tar.xz
unset CI GMEM_DISCARD_TREE_EDITS
SRC=$GMEM_CACHE/linux-0.0-test/src
BASE=$T/base/linux-source-6.12
n=0 failed=0

ok()   { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
assemble() { "$P/assemble.sh" >"$T/out" 2>&1; }
refresh() { "$P/refresh.sh" >"$T/out" 2>&1; }
mtime() { stat -c %Y "$1"; }
age_tree() { find "$SRC" -type f -exec touch -d '2 hours ago' {} +; }

make_base()
{
	mkdir -p "$BASE/mm" "$BASE/include/linux"
	printf 'obj-y += a.o\n' >"$BASE/mm/Makefile"
	seq 1 40 | sed 's/^/int line/; s/$/;/' >"$BASE/mm/a.c"
	printf '#define X 1\n' >"$BASE/include/linux/x.h"
	mkdir -p "$BASE/scripts"
	printf '#!/bin/sh\necho base\n' >"$BASE/scripts/run.sh"
	chmod 755 "$BASE/scripts/run.sh"
	tar -cJf "$GMEM_KSRC_TARBALL" -C "$T/base" linux-source-6.12
	mkdir -p "$GMEM_REPO/mm" && git -C "$GMEM_REPO" init -q
}

make_base
printf 'int pool;\n' >"$GMEM_REPO/mm/pool.c"
cat >"$GMEM_REPO/mm/Makefile.patch" <<'PATCH'
--- a/mm/Makefile
+++ b/mm/Makefile
@@ -1 +1,2 @@
 obj-y += a.o
+obj-y += pool.o
PATCH

mkdir -p "$GMEM_REPO/scripts"
printf -- '--- a/scripts/run.sh\n+++ b/scripts/run.sh\n@@ -1,2 +1,2 @@\n #!/bin/sh\n-echo base\n+echo patched\n' \
	>"$GMEM_REPO/scripts/run.sh.patch"

check "first assembly succeeds" assemble
check "a patched executable stays executable" [ -x "$SRC/scripts/run.sh" ]
check "new file copied in" cmp -s "$SRC/mm/pool.c" "$GMEM_REPO/mm/pool.c"
check "patch applied" grep -qx 'obj-y += pool.o' "$SRC/mm/Makefile"

age_tree
before=$(mtime "$SRC/mm/Makefile")
check "re-assembly succeeds" assemble
check "unchanged overlay keeps its mtime" [ "$(mtime "$SRC/mm/Makefile")" = "$before" ]
check "re-assembly reports nothing rewritten" grep -q '0 files rewritten' "$T/out"

sed -i 's/line7;/line7; \/* edited *\//' "$SRC/mm/a.c"
check "unrefreshed edit stops assembly" bash -c "! $P/assemble.sh >$T/out 2>&1"
check "the refusal names the file" grep -q 'mm/a.c' "$T/out"
check "the edit is kept" grep -q 'edited' "$SRC/mm/a.c"

check "refresh succeeds" refresh
check "refresh wrote mm/a.c.patch" grep -q '^+int line7; /\* edited \*/' "$GMEM_REPO/mm/a.c.patch"
sum=$(sha256sum "$GMEM_REPO/mm/a.c.patch" "$GMEM_REPO/mm/Makefile.patch")
check "second refresh succeeds" refresh
check "refresh leaves matching patches alone" [ "$(sha256sum "$GMEM_REPO/mm/a.c.patch" "$GMEM_REPO/mm/Makefile.patch")" = "$sum" ]
check "assembly accepts the refreshed tree" assemble

age_tree
rm "$GMEM_REPO/mm/a.c.patch" "$GMEM_REPO/mm/pool.c"
check "assembly after dropping overlays succeeds" assemble
check "dropped patch: file back to the base" cmp -s "$SRC/mm/a.c" "$BASE/mm/a.c"
check "dropped patch: file touched for rebuild" [ "$(mtime "$SRC/mm/a.c")" -gt "$(($(date +%s) - 600))" ]
check "dropped new file: removed from the tree" [ ! -e "$SRC/mm/pool.c" ]
touch -d '1 hour ago' "$SRC/mm/a.c"
restored=$(mtime "$SRC/mm/a.c")
check "assembly after a restore succeeds" assemble
check "a restored file is not touched again" [ "$(mtime "$SRC/mm/a.c")" = "$restored" ]

sed -i 's/^ obj-y += a.o/ obj-y += b.o/' "$GMEM_REPO/mm/Makefile.patch"
check "patch with stale context stops assembly" bash -c "! $P/assemble.sh >$T/out 2>&1"
check "the failure names the patch" grep -q 'patch mm/Makefile.patch does not apply' "$T/out"
check "the failure shows the rejected hunk" grep -q '^+obj-y += pool.o' "$T/out"
git -C "$GMEM_REPO" checkout -q -- . 2>/dev/null || true
printf -- '--- a/mm/Makefile\n+++ b/mm/Makefile\n@@ -1 +1,2 @@\n obj-y += a.o\n+obj-y += pool.o\n' >"$GMEM_REPO/mm/Makefile.patch"

printf -- '--- a/mm/a.c\n+++ b/mm/a.c\n@@ -1 +1 @@\n-int line1;\n+int line0;\n' >"$GMEM_REPO/mm/Makefile.patch"
check "patch of another file is refused" bash -c "! $P/assemble.sh >$T/out 2>&1"
check "the refusal names both files" grep -q 'mm/Makefile.patch: must only change a/mm/Makefile' "$T/out"
printf -- '--- a/mm/Makefile\n+++ b/mm/Makefile\n@@ -1 +1,2 @@\n obj-y += a.o\n+obj-y += pool.o\n' >"$GMEM_REPO/mm/Makefile.patch"

cp "$BASE/mm/a.c" "$GMEM_REPO/mm/a.c"
check "a committed copy of a base file is refused" bash -c "! $P/assemble.sh >$T/out 2>&1"
check "the refusal asks for a .patch" grep -q 'mm/a.c exists in linux-source-6.12: commit mm/a.c.patch' "$T/out"
rm "$GMEM_REPO/mm/a.c"

check "assembly back to a clean state" assemble
echo '/* ci leftover */' >>"$SRC/mm/a.c"
check "under CI, tree edits are discarded" bash -c "CI=true $P/assemble.sh >$T/out 2>&1"
check "and the file is back to the base" cmp -s "$SRC/mm/a.c" "$BASE/mm/a.c"

echo "1..$n"
echo "$((n - failed)) passed, $failed failed"
[ $failed -eq 0 ]
