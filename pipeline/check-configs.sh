#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make check-configs': the kernel configurations 'make check' does not
# boot, each built as a flavour (pipeline/kernel-NAME.config over
# kernel.config, objects in the cache), booted once with its own list
# (pipeline/tests-NAME.list, or CHECK_TESTS_LIST for every flavour).
# Ends with "N passed, N failed" over all.
set -euo pipefail
. "$(dirname "$0")/common.sh"

FLAVOURS=${CHECK_FLAVOURS:-nothp nopool}
passed=0 failed=0
for f in $FLAVOURS; do
	log "flavour $f: building"
	if ! GMEM_FLAVOUR=$f "$REPO/pipeline/build-kernel.sh"; then
		log "flavour $f: build failed"
		failed=$((failed + 1))
		continue
	fi
	out=$REPO/build/check-$f.log
	rc=0
	GMEM_FLAVOUR=$f RESULTS=$REPO/build/results-$f \
		TESTS_LIST=${CHECK_TESTS_LIST:-$REPO/pipeline/tests-$f.list} \
		"$REPO/pipeline/check.sh" 2>&1 | tee "$out" || rc=$?
	# Cases skipped inside a passing program, with their reasons.
	grep -h -E '^(ok|not ok) .*# SKIP' "$REPO/build/results-$f"/logs/*.log 2>/dev/null |
		sed "s/^/  $f: /" || true
	p=$(tail -n1 "$out" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
	n=$(tail -n1 "$out" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	# A check that died before its summary counts as one failure.
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${n:-1}))
	[ $rc -eq 0 ] || log "flavour $f: check failed (status $rc)"
done
echo
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
