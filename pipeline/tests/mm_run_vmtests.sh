#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The mm selftests' own runner knows the pool's tests (series patch 11):
# run_vmtests.sh -t "unmapped_pool unmapped_pool_numa" runs ./unmapped_pool,
# which must pass, and leaves the destructive poison, pressure and NUMA
# tests to -d.  The -d wiring is checked with stand-ins that only say they
# ran (the real ones are tests of their own in tests.list).
# Needs KSRC (the assembled tree) and KST (selftest outputs).
set -eu
MM=$KSRC/tools/testing/selftests/mm
POOL_TESTS="unmapped_pool unmapped_pool_numa unmapped_pool_poison unmapped_pool_pressure"
fail=0
expect()	# what command...
{
	what=$1
	shift
	if "$@"; then
		echo "ok: $what"
	else
		echo "FAIL: $what"
		fail=1
	fi
}

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$MM/run_vmtests.sh" "$dir/"

echo "== run_vmtests.sh -n -t 'unmapped_pool unmapped_pool_numa', the real tests"
for t in $POOL_TESTS; do
	ln -sf "$KST/mm/$t" "$dir/$t"
done
rc=0
(cd "$dir" && bash ./run_vmtests.sh -n -t "unmapped_pool unmapped_pool_numa") >"$dir/real.log" 2>&1 || rc=$?
cat "$dir/real.log"
expect "run_vmtests.sh exits 0 (got $rc)" [ "$rc" -eq 0 ]
expect "it ran ./unmapped_pool" grep -qx 'running ./unmapped_pool' "$dir/real.log"
expect "one test ran and passed: without -d not the destructive ones" \
	grep -qx 'SUMMARY: PASS=1 SKIP=0 FAIL=0' "$dir/real.log"

echo "== run_vmtests.sh -n -d -t 'unmapped_pool unmapped_pool_numa', stand-ins"
for t in $POOL_TESTS; do
	printf '#!/bin/sh\necho "stand-in %s ran"\n' "$t" >"$dir/$t.stub"
	chmod +x "$dir/$t.stub"
	ln -sf "$t.stub" "$dir/$t"
done
rc=0
(cd "$dir" && bash ./run_vmtests.sh -n -d -t "unmapped_pool unmapped_pool_numa") \
	>"$dir/stub.log" 2>&1 || rc=$?
cat "$dir/stub.log"
expect "run_vmtests.sh -d exits 0 (got $rc)" [ "$rc" -eq 0 ]
for t in $POOL_TESTS; do
	expect "-d runs $t" grep -qx "stand-in $t ran" "$dir/stub.log"
done
exit $fail
