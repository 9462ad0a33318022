#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make series: the kernel side of this repository as a git-am-able patch
# series in build/series/ (0000-cover-letter.patch, NNNN-*.patch).
#
# series/NN-*.txt describe the patches in order: the commit message, a
# line "---", then the repository files the patch brings to their final
# content.  A file marked "interim" is brought only part of the way: its
# final content with series/interim/NN/<kernel path>.diff applied, for a
# change that a later patch completes.  Every kernel file and <path>.patch
# of the repository reaches its final content in exactly one patch.
#
# The patches are commits on a git repository of the base tree (made once,
# under the cache), authored and signed off by git config's user, dated
# with the last commit that changed series/ or a kernel file, so that the
# output is reproducible; the kernel files and series/ must therefore be
# committed.  A step file whose first line is "From: Name <email>" names
# another author, whose Signed-off-by the message must carry; trailers
# (Suggested-by:, Co-developed-by:, ...) are written in the message, and
# lines starting with '#' stay in it (#PF, #VC).
set -euo pipefail
. "$(dirname "$0")/series-common.sh"

OUT=$(realpath -m "${SERIES_OUT:-$REPO/build/series}")
COVER=$STEPS/cover-letter.txt

identity()
{
	NAME=$(git -C "$REPO" config user.name || true)
	EMAIL=$(git -C "$REPO" config user.email || true)
	[ -n "$NAME" ] && [ -n "$EMAIL" ] ||
		die "git config user.name and user.email must be set: the series' authorship and Signed-off-by lines come from them (git config --global user.name 'Your Name'; git config --global user.email you@example.org)"
}

# Subject and body of a step file: everything above its "---" line but a
# leading "From:" line.
step_message() { sed -e '/^---$/,$d' -e '1{/^From: /d}' "$1"; }
# The "From: " line's "Name <email>", if the step file has one.
step_author() { sed -n '1s/^From: \(.*[^ ] <[^<>@ ]\+@[^<>@ ]\+>\)$/\1/p' "$1"; }

# Content comes from the working tree and the date from git: refuse
# anything uncommitted that would make the two disagree.
check_committed()
{
	local dirty
	dirty=$(git -C "$REPO" status --porcelain --untracked-files=all -- $(overlay_roots) series/)
	[ -z "$dirty" ] ||
		die "uncommitted changes in kernel files or series/ (the series is dated with the last commit of those files, so it must be committed content): $(echo "$dirty" | head -5 | tr '\n' ' ')"
}
# Its files, as "<repo path> [interim]".
step_files() { sed '1,/^---$/d; /^#/d; /^[[:space:]]*$/d' "$1"; }

# Check the step files against the repository before writing anything.
check_steps()
{
	local s name nn f flag d finals="" interims="" missing unused
	for s in "$STEPS"/[0-9][0-9]-*.txt; do
		name=series/$(basename "$s") nn=$(basename "$s" | cut -c1-2)
		grep -qx -- '---' "$s" || die "$name: no '---' line before its files"
		[ -n "$(step_message "$s" | head -n1)" ] || die "$name: no subject"
		if head -n1 "$s" | grep -q '^From:' && [ -z "$(step_author "$s")" ]; then
			die "$name: a first line 'From:' must read 'From: Name <email>'"
		fi
		# The author certifies the patch too (Documentation/process/submitting-patches.rst).
		[ -z "$(step_author "$s")" ] ||
			grep -qxF "Signed-off-by: $(step_author "$s")" <(step_message "$s") ||
			die "$name: no 'Signed-off-by: $(step_author "$s")' for its From: author"
		[ "$(ls "$STEPS/$nn"-*.txt | wc -l)" = 1 ] || die "series/$nn-*.txt: two step files numbered $nn"
		while read -r f flag; do
			grep -qxF -- "$f" <<<"$OVERLAY_FILES" ||
				die "$name: $f is not a kernel file or patch of this repository"
			case "$flag" in
			"") grep -qxF -- "$f" <<<"$finals" &&
				die "$name: $f already reached its final content in an earlier patch"
			    finals+=$f$'\n' ;;
			interim) grep -qxF -- "$f" <<<"$finals" &&
				die "$name: $f is interim after its final patch"
			    interims+=$nn/${f%.patch}.diff$'\n' ;;
			*) die "$name: unknown mark '$flag' for $f" ;;
			esac
		done < <(step_files "$s")
	done
	f=$(cd "$REPO" && git ls-files -s -- $OVERLAY_FILES | awk '$1 != "100644" { print $4 }')
	[ -z "$f" ] || die "make series commits every file with mode 644, and these are tracked with another: $(echo $f)"
	missing=$(printf '%s\n' "$OVERLAY_FILES" | grep -vxF -f <(printf '%s' "$finals") || true)
	[ -z "$missing" ] || die "in no patch of series/: $(echo $missing)"
	unused=""
	if [ -d "$STEPS/interim" ]; then
		while read -r d; do
			grep -qxF -- "$d" <<<"$interims" || unused+=" series/interim/$d"
		done < <(cd "$STEPS/interim" && find . -type f | sed 's|^\./||' | sort)
	fi
	[ -z "$unused" ] || die "no step file marks these interim, so nothing uses them:$unused"
}

commit_steps()
{
	local s nn f flag tmp=$SERIES_TMP/commit date author n=0
	mkdir -p "$tmp"
	# The last commit that changed what the series is made of.
	date=$(git -C "$REPO" log -1 --no-show-signature --format=%cI -- series $(overlay_roots) \
		2>/dev/null || true)
	date=${date:-2026-01-01T00:00:00+00:00}
	reset_to_base "$SERIES_SRC"
	for s in "$STEPS"/[0-9][0-9]-*.txt; do
		nn=$(basename "$s" | cut -c1-2)
		while read -r f flag; do
			content_at "$f" "$([ "$flag" = interim ] && echo "$nn")" "$tmp/x"
			mkdir -p "$SERIES_SRC/$(dirname "${f%.patch}")"
			cp "$tmp/x" "$SERIES_SRC/${f%.patch}"
		done < <(step_files "$s")
		git_series add -f -A
		if git_series diff --cached --quiet; then
			die "series/$(basename "$s") changes nothing"
		fi
		step_message "$s" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' >"$tmp/msg"
		author=$(step_author "$s")
		GIT_AUTHOR_DATE=$date \
		GIT_COMMITTER_NAME=$NAME GIT_COMMITTER_EMAIL=$EMAIL GIT_COMMITTER_DATE=$date \
			git_series -c user.name="$NAME" -c user.email="$EMAIL" commit -q -s \
			--cleanup=verbatim --author="${author:-$NAME <$EMAIL>}" -F "$tmp/msg"
		n=$((n + 1))
	done
	git_series branch -f series HEAD
	log "$n commits on $SERIES_SRC (branch series)"
}

cover_letter()
{
	local dir=$1 cover=$1/0000-cover-letter.patch to cc subject upstream tmp extra
	upstream=$(make -s -C "$PRISTINE" kernelversion)
	# HOME without a .get_maintainer.conf: the base's MAINTAINERS decides.
	to=$(cd "$SERIES_SRC" && HOME=/nonexistent perl scripts/get_maintainer.pl --no-git \
		--no-git-fallback --no-keywords --no-rolestats --no-r --no-l --no-multiline "$dir"/0*-*.patch) ||
		die "scripts/get_maintainer.pl failed"
	cc=$(cd "$SERIES_SRC" && HOME=/nonexistent perl scripts/get_maintainer.pl --no-git \
		--no-git-fallback --no-keywords --no-rolestats --no-m --no-multiline "$dir"/0*-*.patch) ||
		die "scripts/get_maintainer.pl failed"
	[ -n "$to" ] || die "scripts/get_maintainer.pl found no maintainer for the series"
	subject=$(head -n1 "$COVER")
	# "Cc: " lines right under the subject: people the MAINTAINERS file
	# does not name for these files but who should see the series.
	extra=$(sed -n '1,/^$/{/^Cc: /{s/^Cc: //;p}}' "$COVER")
	cc=$(printf '%s\n' "$to" "@@" "$cc" "$extra" | sed 's/, /\n/g' |
		awk '$0 == "@@" { cc = 1; next } NF && !seen[$0]++ && cc' | paste -sd, - | sed 's/,/, /g')
	tmp=$SERIES_TMP/cover-body
	sed '1,/^$/{/^Cc: /d}' "$COVER" | sed '1d; /^;;/d' | sed '/./,$!d' |
		sed -e "s/@DEBIAN_VERSION@/$KVER/g" -e "s/@UPSTREAM_VERSION@/$upstream/g" >"$tmp"
	# One address per header line; the cover letter dated like the patches.
	# Values through ENVIRON: awk -v would expand backslashes, and sub()
	# an '&' in the subject.
	SUBJECT=$subject TO=$to CC=$cc BODY=$tmp DATE=$(git_series log -1 --format=%cD series) awk '
		BEGIN { to = ENVIRON["TO"]; cc = ENVIRON["CC"]; body = ENVIRON["BODY"]
			gsub(/, /, ",\n ", to); gsub(/, /, ",\n ", cc)
			marker = "*** SUBJECT HERE ***" }
		/^Date: / && !dated { print "Date: " ENVIRON["DATE"]; dated = 1; next }
		/^Subject: / { i = index($0, marker)
			       if (i) $0 = substr($0, 1, i - 1) ENVIRON["SUBJECT"] substr($0, i + length(marker))
			       print
			       print "To: " to; if (cc != "") print "Cc: " cc; next }
		/^\*\*\* BLURB HERE \*\*\*$/ { while ((getline l < body) > 0) print l; next }
		{ print }' "$cover" >"$cover.new"
	mv "$cover.new" "$cover"
}

identity
[ -f "$COVER" ] || die "series/cover-letter.txt is missing"
# First: the repository of the base is shared with series-check.sh, and
# nothing below may see files that change while we wait for it.
take_cache_lock
read_overlay_files
[ -n "${SERIES_ALLOW_DIRTY:-}" ] || check_committed
check_steps
ensure_series_git
commit_steps
is_final_tree "$SERIES_SRC" series || die "the series' last commit is not the repository's tree"
# Written beside $OUT and moved in whole: a reader never sees half a series.
rm -rf "$OUT.new"
mkdir -p "$OUT.new"
# No version signature, fixed abbreviations: the same files from the same git.
git_series -c user.name="$NAME" -c user.email="$EMAIL" format-patch -q --cover-letter \
	--subject-prefix="RFC PATCH" --zero-commit --no-signature --abbrev=12 -o "$OUT.new" base..series
cover_letter "$OUT.new"
rm -rf "$OUT"
mv "$OUT.new" "$OUT"
log "series written to ${OUT#"$REPO/"}: $(ls "$OUT" | wc -l) files"
git_series log --oneline --reverse base..series >&2
