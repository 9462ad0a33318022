#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Inside the guest: run every test of tests.list, one line each into
# $OUT/results.tsv as <status>\t<name>\t<seconds>\t<reason>.
# Needs REPO, KST (selftest outputs) and OUT in the environment.
set -u
TESTS=${GUEST_TESTS:-$REPO/pipeline/tests.list}
# GUEST_TIMEOUT_SCALE multiplies every timeout (make check-kasan: a slower kernel).
SCALE=${GUEST_TIMEOUT_SCALE:-1}
DEFAULT_TIMEOUT=600
RESULTS_TSV=$OUT/results.tsv
: >"$RESULTS_TSV"

record()	# status name seconds reason
{
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS_TSV"
	printf 'guest-test: %-4s %s (%ss)%s\n' "$1" "$2" "$3" "${4:+: $4}"
}

# kselftest skips print "# SKIP <reason>" or "SKIP - <reason>".
skip_reason()
{
	grep -m1 -o 'SKIP.*' "$1" | sed 's/^SKIP[ :-]*//'
}

kunit_result()	# results-file suite -> pass|fail|skip, reason on line 2
{
	last=$(grep -E "^(not )?ok [0-9]+ $2( |$)" "$1" | tail -n1)
	case "$last" in
	"not ok"*)	echo fail; grep -m3 -E '^ +not ok|Expected' "$1" | tr '\n' ' '; echo ;;
	*"# SKIP"*)	echo skip; echo "${last#*# SKIP}" ;;
	ok*)		echo pass; echo ;;
	*)		echo fail; echo "no result line for suite $2" ;;
	esac
}

# A built-in suite ran at boot; run it again now that the system runs
# (some behaviour, like vmstat events, only exists then).  Both count.
kunit_run()	# suite log -> like kunit_result
{
	d=/sys/kernel/debug/kunit/$1
	if [ ! -r "$d/results" ]; then
		echo fail; echo "suite $1 is not built into this kernel"; return
	fi
	{ echo "# results at boot"; cat "$d/results"; } >"$2"
	boot=$(kunit_result "$d/results" "$1")
	echo 1 >"$d/run"
	{ echo "# results of a run after boot"; cat "$d/results"; } >>"$2"
	now=$(kunit_result "$d/results" "$1")
	case "$(echo "$boot" | head -n1) $(echo "$now" | head -n1)" in
	fail*)		echo fail; echo "at boot: $(echo "$boot" | sed -n 2p)" ;;
	*fail)		echo fail; echo "after boot: $(echo "$now" | sed -n 2p)" ;;
	skip*)		echo skip; echo "at boot: $(echo "$boot" | sed -n 2p)" ;;
	*skip)		echo skip; echo "after boot: $(echo "$now" | sed -n 2p)" ;;
	*)		echo pass; echo ;;
	esac
}

run_one()	# kind name timeout skip_ok
{
	kind=$1 name=$2 tmo=$3 skip_ok=$4
	logf=$OUT/logs/$(echo "$name" | tr '/' '_').log
	start=$(date +%s)
	echo "$kind $name" >"$OUT/current"
	echo "guest-test: start $name"
	case "$kind" in
	script)   timeout -k 5 "$tmo" sh "$REPO/$name" >"$logf" 2>&1; rc=$? ;;
	selftest) (cd "$KST/$(dirname "$name")" &&
		   timeout -k 5 "$tmo" "./$(basename "$name")") >"$logf" 2>&1; rc=$? ;;
	kunit)	  res=$(kunit_run "$name" "$logf")
		  case "$(echo "$res" | head -n1)" in
		  pass) rc=0 ;; skip) rc=4 ;; *) rc=1 ;;
		  esac ;;
	*)	  echo "unknown test kind $kind" >"$logf"; rc=2 ;;
	esac
	secs=$(( $(date +%s) - start ))
	sed 's/^/    /' "$logf" | tail -n 15

	case $rc in
	0)	# A pass may still have skipped parts: say which.
		# (KVM selftests' print_skip() ends a line ", skipping test".)
		subskips=$(grep -E '^[[:space:]]*ok [0-9]+ .*# SKIP|, skipping test$' "$logf" |
			   sed 's/^[[:space:]]*ok [0-9]* //' | head -3 | tr '\n' ';')
		record pass "$name" "$secs" "${subskips:+passed with skipped sub-tests: $subskips}" ;;
	4)	if [ "$kind" = kunit ]; then
			reason=$(echo "$res" | sed -n 2p)
		else
			reason=$(skip_reason "$logf")
		fi
		if [ -n "$skip_ok" ] && echo "$reason" | grep -qE "$skip_ok"; then
			record skip "$name" "$secs" "$reason"
		else
			record fail "$name" "$secs" "unexpected skip (our config or environment is missing something): $reason"
		fi ;;
	124|137) record fail "$name" "$secs" "timed out after ${tmo}s" ;;
	*)	if [ "$kind" = kunit ]; then
			reason=$(echo "$res" | sed -n 2p)
		else
			reason="exit status $rc: $(grep -m1 -E 'Assertion|FAIL|not ok|Error|error' "$logf" | cut -c1-200)"
		fi
		record fail "$name" "$secs" "$reason" ;;
	esac
}

# KUnit suites that charge memory look for a cgroup named "kunit" with a
# small memory.max (unmapped_alloc's __GFP_ACCOUNT case); only the runs
# after boot see it.
if echo +memory >/sys/fs/cgroup/cgroup.subtree_control &&
   mkdir -p /sys/fs/cgroup/kunit; then
	echo 8M >/sys/fs/cgroup/kunit/memory.max
else
	echo "guest-test: no memory cgroup for KUnit: charging cases will skip"
fi

mkdir -p "$OUT/logs"
grep -vE '^[[:space:]]*(#|$)' "$TESTS" | while read -r kind name rest; do
	[ "$kind" = host ] && continue
	tmo=$DEFAULT_TIMEOUT skip_ok=""
	case "$rest" in timeout=*) tmo=${rest#timeout=}; tmo=${tmo%% *}; rest=${rest#timeout=$tmo} ;; esac
	rest=${rest# }
	case "$rest" in skip-ok=*) skip_ok=${rest#skip-ok=} ;; esac
	run_one "$kind" "$name" $((tmo * SCALE)) "$skip_ok"
done
echo done >"$OUT/current"
! grep -q '^fail' "$RESULTS_TSV"
