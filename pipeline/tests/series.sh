#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make series writes a cover letter and one patch per series/NN-*.txt,
# signed off by git config's user, the same on every run; the series
# applies with git am on the base, passes checkpatch, and ends at make
# tree's tree (series-check without the builds, which take long: see
# docs/series.md).  Without a git identity make series stops with a clear
# message, and so it does with uncommitted kernel files; series-check
# names a patch that does not apply or fails checkpatch.
set -euo pipefail
. "$(dirname "$0")/../common.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 bad=0
ok()    { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); bad=$((bad + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else notok "$what"; fi; }

name=$(git -C "$REPO" config user.name || true)
email=$(git -C "$REPO" config user.email || true)
if [ -z "$name" ] || [ -z "$email" ]; then
	echo "SKIP: git config user.name/user.email unset: make series needs them"
	exit 4
fi
steps=$(ls "$REPO"/series/[0-9][0-9]-*.txt | wc -l)
# Every run below waits for the cache lock, which another clone's
# series-check can hold for many minutes: four at most, well inside this
# test's timeout; a run that gives up exits 4, and so does the test.
export GMEM_LOCK_WAIT=240
lock_skip()
{
	echo "SKIP: the cache lock was held by another run for more than $GMEM_LOCK_WAIT s"
	exit 4
}
# Runs "$@" with its output in $out and its status in $rc.
run() { rc=0; out=$("$@" 2>&1) || rc=$?; [ $rc -ne 4 ] || lock_skip; }

run env SERIES_ALLOW_DIRTY=1 SERIES_OUT=$tmp/a "$REPO/pipeline/series.sh"
printf '%s\n' "$out" >"$tmp/a.log"
[ $rc -eq 0 ] || { tail -20 "$tmp/a.log"; notok "make series exits 0 (got $rc)"; echo "$n tests, $bad failed"; exit 1; }
ok "make series exits 0"
check "a cover letter and $steps patches, one per series/NN-*.txt (got $(ls "$tmp/a" | wc -l) files)" \
	test "$(ls "$tmp/a" | wc -l)" -eq $((steps + 1)) -a -f "$tmp/a/0000-cover-letter.patch"
unsigned=$(ls "$tmp"/a/*.patch | grep -v '/0000-' | xargs grep -L -xF "Signed-off-by: $name <$email>" || true)
check "every patch is signed off by git config's user${unsigned:+ (not: $unsigned)}" test -z "$unsigned"
cover=$tmp/a/0000-cover-letter.patch
check "the cover letter has its subject, To:, Cc: and text, and names the base $(ksrc_version)" \
	bash -c "! grep -q '\*\*\* \(SUBJECT\|BLURB\) HERE' '$cover' && grep -q '^To: ' '$cover' &&
		 grep -q '^Cc: ' '$cover' && grep -qF '$(ksrc_version)' '$cover'"
run env SERIES_ALLOW_DIRTY=1 SERIES_OUT=$tmp/b "$REPO/pipeline/series.sh"
check "a second run writes the same files" diff -r "$tmp/a" "$tmp/b"

if [ -n "$(git -C "$REPO" config --local user.name || true)" ]; then
	ok "# skip: the repository's own git config names a user; not checked without an identity"
else
	run env GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_SYSTEM=/dev/null SERIES_ALLOW_DIRTY=1 \
		SERIES_OUT=$tmp/c "$REPO/pipeline/series.sh"
	check "without a git identity make series fails, saying so (rc $rc: $(printf '%s' "$out" | tail -n1 | cut -c1-80))" \
		bash -c "[ $rc -ne 0 ] && printf '%s' \"\$1\" | grep -q 'user.name and user.email must be set'" _ "$out"
fi

run env SERIES_OUT=$tmp/a SERIES_BUILD=none "$REPO/pipeline/series-check.sh"
printf '%s\n' "$out" >"$tmp/check.log"
[ $rc -eq 0 ] || tail -30 "$tmp/check.log"
check "series-check (no builds): every patch applies and passes checkpatch, the last tree is make tree's" \
	test $rc -eq 0
grep -E '^    (check|warning|error)' "$tmp/check.log" | sed 's/^/# /' || true

# Patches 0000-0005 of the series in $1, 0005 edited by sed script $2;
# prints 0005's path.
edited_series()
{
	local p
	mkdir -p "$1"
	cp "$tmp"/a/000[0-5]-*.patch "$1/"
	p=$(ls "$1"/0005-*.patch)
	sed -i "$2" "$p"
	echo "$p"
}

# A patch whose context no longer matches the base: 0005 loses a line.
p5=$(edited_series "$tmp/broken" '0,/^ \t/s/^ \t/ \tbroken context /')
run env SERIES_OUT=$tmp/broken SERIES_BUILD=none "$REPO/pipeline/series-check.sh"
check "series-check fails naming the patch that does not apply ($(printf '%s' "$out" | grep ERROR | cut -c1-80))" \
	bash -c "[ $rc -ne 0 ] && printf '%s' \"\$1\" | grep -q 'ERROR: $(basename "$p5") does not apply'" _ "$out"

# A patch that applies but adds trailing whitespace: checkpatch must fail it.
p5=$(edited_series "$tmp/style" '0,/^+\t.*[^[:space:]]$/s//& /')
run env SERIES_OUT=$tmp/style SERIES_BUILD=none "$REPO/pipeline/series-check.sh"
check "series-check fails a patch with a checkpatch ERROR, naming it ($(printf '%s' "$out" | grep -E 'TRAILING|^ERROR' | head -2 | tr '\n' ' ' | cut -c1-100))" \
	bash -c "[ $rc -ne 0 ] && printf '%s' \"\$1\" | grep -q 'ERROR: TRAILING_WHITESPACE' &&
		 printf '%s' \"\$1\" | grep -q 'ERROR: checkpatch: .* in: $(basename "$p5")'" _ "$out"

# make series dates the series with the commits of its files: it refuses
# uncommitted kernel files.
git clone -q --no-hardlinks "$REPO" "$tmp/clone"
git -C "$tmp/clone" config user.name "$name"
git -C "$tmp/clone" config user.email "$email"
echo "/* uncommitted */" >>"$tmp/clone/mm/unmapped_alloc.c"
run env GMEM_REPO=$tmp/clone SERIES_OUT=$tmp/d "$tmp/clone/pipeline/series.sh"
check "make series refuses a working tree with uncommitted kernel files (rc $rc: $(printf '%s' "$out" | tail -n1 | cut -c1-80))" \
	bash -c "[ $rc -ne 0 ] && [ ! -e '$tmp/d' ] && printf '%s' \"\$1\" | grep -q 'uncommitted changes in kernel files or series/.*mm/unmapped_alloc.c'" _ "$out"

# make series checks the step files before it writes anything: each case
# edits the clone's series/ with $2 and expects an error that says $3.
step_error()
{
	local what=$1 edit=$2 want=$3
	git -C "$tmp/clone" checkout -q -- series
	git -C "$tmp/clone" clean -fdq -- series
	(cd "$tmp/clone/series" && eval "$edit")
	run env GMEM_REPO=$tmp/clone SERIES_ALLOW_DIRTY=1 SERIES_OUT=$tmp/e "$REPO/pipeline/series.sh"
	check "make series refuses $what (rc $rc: $(printf '%s' "$out" | grep '^ERROR' | tail -n1 | cut -c1-90))" \
		bash -c "[ $rc -ne 0 ] && [ ! -e '$tmp/e' ] && printf '%s' \"\$1\" | grep -qF -- \"\$2\"" _ "$out" "$want"
}
step_error "a file brought to its final content twice" \
	'echo mm/secretmem.c.patch >>05-proc-kcore.txt' \
	"series/05-proc-kcore.txt: mm/secretmem.c.patch already reached its final content in an earlier patch"
step_error "a kernel file in no step" \
	"sed -i '/^fs\/proc\/kcore.c.patch$/d' 05-proc-kcore.txt" \
	"in no patch of series/: fs/proc/kcore.c.patch"
step_error "an interim diff no step uses" \
	'mkdir -p interim/05/fs/proc && echo >interim/05/fs/proc/kcore.c.diff' \
	"nothing uses them: series/interim/05/fs/proc/kcore.c.diff"
step_error "a From: line without an address" \
	"sed -i '1i From: Nobody' 05-proc-kcore.txt" \
	"series/05-proc-kcore.txt: a first line 'From:' must read 'From: Name <email>'"
step_error "a From: author without the author's Signed-off-by" \
	"sed -i '1i From: Some One <some.one@example.org>' 05-proc-kcore.txt" \
	"series/05-proc-kcore.txt: no 'Signed-off-by: Some One <some.one@example.org>' for its From: author"
step_error "two step files with one number" \
	'cp 05-proc-kcore.txt 05-another.txt' \
	"two step files numbered 05"

echo "$n tests, $bad failed"
[ $bad -eq 0 ]
