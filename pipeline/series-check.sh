#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make series-check: apply build/series/ patch by patch with git am on a
# clean base, run the base's checkpatch.pl --strict on each patch, and
# build the test configuration after each (incrementally, with ccache).
#
#   BASE=debian (default)  Debian's linux-source-6.12, the tree make tree
#                          uses; the last patch's tree must equal make tree's.
#   BASE=orig              the .orig tarball of Debian's linux-6.12 source
#                          package: upstream stable minus the few files
#                          Debian removes (ORIG_VERSION=6.12.N picks another
#                          one than the base's).
#   SERIES_BUILD=each|last|none   what to build (default: each for debian,
#                          last for orig, whose patches checkpatch already saw)
#
# Each build checks the merged .config against the fragment lines whose
# symbols the patch's Kconfig defines, and fails on a compiler or modpost
# warning.
#
# Checkpatch: an ERROR or WARNING fails the patch unless
# pipeline/checkpatch.ignore lists its type for the repository file it is
# in, or for '*' (any file); CHECKs are listed and do not fail.
set -euo pipefail
. "$(dirname "$0")/series-common.sh"

BASE=${BASE:-debian}
PATCHES=$(realpath -m "${SERIES_OUT:-$REPO/build/series}")
IGNORE=$REPO/pipeline/checkpatch.ignore
# The repositories of both bases live in the cache: nobody else may touch
# them from here on, and a make series still writing $PATCHES is waited for.
take_cache_lock
read_overlay_files

case "$BASE" in
debian) SRC=$SERIES_SRC
	OBJ=$TREE/series/obj
	BUILD=${SERIES_BUILD:-each}
	CHECKPATCH=1 ;;
orig)	. "$(dirname "$0")/orig.sh"
	ensure_orig_git
	SRC=$ORIG_SRC
	OBJ=$ORIG_OBJ
	BUILD=${SERIES_BUILD:-last}
	CHECKPATCH=0 ;;
*)	die "BASE=$BASE: expected debian or orig" ;;
esac
case "$BUILD" in each|last|none) ;; *) die "SERIES_BUILD=$BUILD: expected each, last or none" ;; esac
KMAKE=(make -C "$SRC" O="$OBJ" -j"$JOBS" CC="ccache gcc" HOSTCC="ccache gcc")
# checkpatch reads .checkpatch.conf from $HOME too: an empty one here.
CP_HOME=$SERIES_TMP/home
mkdir "$CP_HOME"

# Types checkpatch.ignore allows for kernel path $1, as TYPE or
# TYPE:WORD (the type only in a finding whose message names WORD).
allowed_types()
{
	local key=$1
	[ -e "$REPO/$1.patch" ] && key=$1.patch
	awk -v f="$key" '$1 == f || $1 == "*" { print $2 }' "$IGNORE" | tr ',\n' '  '
}

# 0 when checkpatch.ignore explains finding TYPE ($2) in FILE ($1) with
# message $3.
allowed()
{
	local a
	for a in $(allowed_types "$1"); do
		case "$a" in
		"$2") return 0 ;;
		"$2":*) [[ "$3" == *"${a#*:}"* ]] && return 0 ;;
		esac
	done
	return 1
}

# checkpatch's report on patch $1 as "LEVEL TYPE FILE MESSAGE" lines,
# then "total ERRORS WARNINGS CHECKS", or "broken RC" when checkpatch did
# not finish (its exit status is 1 for any finding, above 1 when it died).
checkpatch_report()
{
	local rc=0 out
	out=$(cd "$SRC" && HOME=$CP_HOME perl scripts/checkpatch.pl --strict --show-types \
		--color=never --no-terse --no-emacs "$1" 2>&1) || rc=$?
	if [ $rc -gt 1 ] || ! printf '%s\n' "$out" | grep -qE '^total: [0-9]+ errors?, '; then
		printf '%s\n' "$out" | tail -5 >&2
		echo "broken $rc"
		return
	fi
	printf '%s\n' "$out" |
	awk '/^total: / { total = "total " $2 " " $4 " " $6; next }
	     /^(ERROR|WARNING|CHECK):[A-Z_0-9]+:/ {
		if (lvl != "") print lvl, type, (file == "" ? "-" : file), msg
		split($0, a, ":"); lvl = a[1]; type = a[2]
		msg = $0; sub(/^[A-Z]+:[A-Z_0-9]+: */, "", msg); file = ""; next }
	     lvl != "" && file == "" && /^#[0-9]+: FILE: / {
		file = $3; sub(/:[0-9]+:?$/, "", file); next }
	     END { if (lvl != "") print lvl, type, (file == "" ? "-" : file), msg
		   print total }'
}

# 0 when patch $1 has no ERROR or WARNING that checkpatch.ignore does not
# explain, and checkpatch's totals count what was read of its report;
# prints every finding.
check_style()
{
	local p=$1 lvl type file msg bad=0 errors=0 warnings=0 checks=0 total=0
	while read -r lvl type file msg; do
		case "$lvl" in
		broken)
			printf '    checkpatch did not run to its end (exit status %s)\n' "$type"
			bad=1 ;;
		total)
			total=1
			printf '    checkpatch: %s errors, %s warnings, %s checks\n' "$type" "$file" "$msg"
			[ "$type $file $msg" = "$errors $warnings $checks" ] || {
				printf '    ERROR: read %s errors, %s warnings, %s checks of checkpatch'"'"'s report\n' \
					"$errors" "$warnings" "$checks"
				bad=1; } ;;
		CHECK)
			checks=$((checks + 1))
			printf '    check: %s %s: %s\n' "$type" "$file" "$msg" ;;
		*)
			[ "$lvl" = ERROR ] && errors=$((errors + 1)) || warnings=$((warnings + 1))
			if allowed "$file" "$type" "$msg"; then
				printf '    %s (checkpatch.ignore): %s %s\n' "${lvl,,}" "$type" "$file"
			else
				printf '    %s: %s %s: %s\n' "${lvl^^}" "$type" "$file" "$msg"
				bad=1
			fi ;;
		esac
	done < <(checkpatch_report "$p")
	[ $total = 1 ] || [ $bad = 1 ] || { echo "    checkpatch's report was not read to its total"; bad=1; }
	return $bad
}

# The test configuration, as far as this patch's Kconfig knows it: options
# a later patch adds are dropped by olddefconfig until then.
configure()
{
	merge_kernel_config "$SRC" "$OBJ"
}

# Every line of the fragments whose symbol this patch's Kconfig defines
# holds in .config: olddefconfig drops what it cannot satisfy without a
# word, and a build without the feature proves nothing.
check_config()
{
	local defined line sym bad="" frags
	kernel_fragments >/dev/null
	mapfile -t frags < <(kernel_fragments)
	defined=$(cd "$SRC" && grep -rhoE --include='Kconfig*' '^[[:space:]]*(menu)?config [A-Za-z0-9_]+' . |
		awk '{ print $2 }' | sort -u)
	while read -r line; do
		case "$line" in
		CONFIG_*=*) sym=${line%%=*} ;;
		"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *} ;;
		*) continue ;;
		esac
		grep -qxF "${sym#CONFIG_}" <<<"$defined" || continue
		case "$line" in
		"#"*) ! grep -q "^$sym=" "$OBJ/.config" || bad+=" $line" ;;
		*) grep -qxF "$line" "$OBJ/.config" || bad+=" $line" ;;
		esac
	done < <(last_word_per_symbol "${frags[@]}")
	[ -z "$bad" ] || die "$1: .config lacks, though its Kconfig defines them:$bad"
}

# A build with a warning fails too: 0-day reports each one, and the
# interim states of a split file are where unused ones appear.
build()
{
	local what=$1 start=$SECONDS warnings
	configure
	check_config "$what"
	run_logged "$what" "$OBJ/build.log" "${KMAKE[@]}" bzImage modules ||
		die "$what does not build (log: $OBJ/build.log)"
	warnings=$(grep -E ': warning: |^WARNING: modpost: ' "$OBJ/build.log" || true)
	[ -z "$warnings" ] || { printf '%s\n' "$warnings" | head -20 >&2
		die "$what builds with warnings (log: $OBJ/build.log)"; }
	log "$what built in $((SECONDS - start))s"
}

# The last patch's tree holds the repository's kernel files, as make tree
# assembles them (from this clone's files, not from the shared $KSRC).
check_same_as_tree()
{
	is_final_tree "$SRC" HEAD || die "the last patch's tree is not what make tree assembles"
	log "the last patch's tree is make tree's (every one of $(printf '%s\n' $OVERLAY_FILES | wc -l) files)"
}

mapfile -t SERIES < <(ls "$PATCHES"/[0-9][0-9][0-9][0-9]-*.patch 2>/dev/null | grep -v '/0000-')
[ ${#SERIES[@]} -gt 0 ] || die "no patches in $PATCHES (make series)"

reset_to_base "$SRC"
log "checking ${#SERIES[@]} patches on $(base_git "$SRC" log -1 --format=%s base) (build: $BUILD)"
failed_style=""
start=$SECONDS
for p in "${SERIES[@]}"; do
	name=$(basename "$p")
	# Not the user's git config: am.threeway or apply.whitespace=fix
	# would make a patch apply here that does not apply elsewhere.
	if ! out=$(base_git "$SRC" -c user.name=check -c user.email=check@localhost \
			am --no-3way -q "$p" 2>&1); then
		printf '%s\n' "$out" >&2
		base_git "$SRC" am --abort >/dev/null 2>&1 || true
		[ "$BASE" = debian ] || orig_report
		die "$name does not apply"
	fi
	log "$name: applied"
	if [ $CHECKPATCH = 1 ]; then
		check_style "$p" || failed_style+="$name "
	fi
	if [ "$BUILD" = each ] || { [ "$BUILD" = last ] && [ "$p" = "${SERIES[-1]}" ]; }; then
		build "$name"
	fi
done
[ -z "$failed_style" ] || die "checkpatch: ERROR or WARNING not in pipeline/checkpatch.ignore in: $failed_style"
if [ "$BASE" = debian ]; then
	check_same_as_tree
else
	orig_report
fi
log "series-check ($BASE): ${#SERIES[@]} patches applied$([ $CHECKPATCH = 1 ] && echo ", checkpatch clean")$([ "$BUILD" != none ] && echo ", built ($BUILD)") in $((SECONDS - start))s"
