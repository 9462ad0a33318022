#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make check': boot once, run tests.list inside, scan the kernel log, and
# print a summary ending in "N passed, N failed[, N skipped]".
# TESTS_LIST names another list (make check-configs); GMEM_FLAVOUR another
# kernel.
set -euo pipefail
. "$(dirname "$0")/common.sh"

set_tree_paths
TESTS_LIST=${TESTS_LIST:-$REPO/pipeline/tests.list}
export GUEST_TESTS=$TESTS_LIST
TIMEOUT=${CHECK_TIMEOUT:-2400}
boot_rc=0
"$REPO/pipeline/boot.sh" pipeline/guest/run-tests.sh "$TIMEOUT" || boot_rc=$?
[ $boot_rc -eq 4 ] && die "could not start QEMU"

TSV=$RESULTS/results.tsv
[ -f "$TSV" ] || : >"$TSV"

# Host tests run after the boot, which starts from an empty results dir.
mkdir -p "$RESULTS/logs"
# As in the guest, a skip counts only when its reason matches skip-ok=.
{ grep -E '^host[[:space:]]' "$TESTS_LIST" || true; } | while read -r _ name rest; do
	logf=$RESULTS/logs/$(echo "$name" | tr '/' '_').log
	skip_ok=$(printf '%s' "$rest" | sed -n 's/.*skip-ok=//p')
	start=$SECONDS rc=0
	timeout $((600 * ${GUEST_TIMEOUT_SCALE:-1})) "$REPO/$name" >"$logf" 2>&1 || rc=$?
	secs=$((SECONDS - start))
	reason=$(grep -m1 '^SKIP' "$logf" | sed 's/^SKIP: *//' || true)
	case $rc in
	0) printf 'pass\t%s\t%s\t\n' "$name" $secs ;;
	4) if [ -n "$skip_ok" ] && printf '%s' "$reason" | grep -qE "$skip_ok"; then
		printf 'skip\t%s\t%s\t%s\n' "$name" $secs "$reason"
	   else
		printf 'fail\t%s\t%s\tunexpected skip: %s\n' "$name" $secs "$reason"
	   fi ;;
	*) printf 'fail\t%s\t%s\t%s\n' "$name" $secs \
		"exit status $rc: $(grep -m3 '^not ok' "$logf" | paste -sd';' -)" ;;
	esac >>"$TSV"
done
case $boot_rc in
2) why="guest crashed or panicked before running it" ;;
3) why="guest timed out before running it" ;;
*) why="not run" ;;
esac

# A test in the list without a result line did not run: count it failed.
grep -vE '^[[:space:]]*(#|$)' "$TESTS_LIST" | while read -r _ name _; do
	cut -f2 "$TSV" | grep -qxF "$name" || printf 'fail\t%s\t0\t%s\n' "$name" "$why" >>"$TSV"
done

reports=$("$REPO/pipeline/scan-log.sh" "$RESULTS/console.log" 2>&1) && log_rc=0 || log_rc=$?
if [ $log_rc -eq 0 ]; then
	printf 'pass\tkernel-log\t0\t\n' >>"$TSV"
else
	printf 'fail\tkernel-log\t0\t%s\n' \
		"$(printf '%s\n' "$reports" | grep '^kernel report' | head -3 | sed 's/^kernel report at //' | paste -sd';' -)" >>"$TSV"
fi

echo
echo "=== make check: $(cat "$KOBJ/include/config/kernel.release" 2>/dev/null), boot+tests $(cat "$RESULTS/boot.seconds")s"
awk -F'\t' '{ printf "%-4s  %-45s %5ss%s\n", toupper($1), $2, $3, ($4 != "" ? "  " $4 : "") }' "$TSV"
if [ $log_rc -ne 0 ]; then
	echo
	printf '%s\n' "$reports"
fi
skips=$(awk -F'\t' '$1 == "skip"' "$TSV")
if [ -n "$skips" ]; then
	echo
	echo "skipped (with reason):"
	printf '%s\n' "$skips" | awk -F'\t' '{ printf "  %s: %s\n", $2, $4 }'
fi
echo "logs: $RESULTS (console.log, logs/)"
passed=$(grep -c '^pass' "$TSV" || true)
failed=$(grep -c '^fail' "$TSV" || true)
skipped=$(grep -c '^skip' "$TSV" || true)
echo
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
