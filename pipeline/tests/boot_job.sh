# SPDX-License-Identifier: GPL-2.0
# Sourced by host tests that boot the kernel a second time with other
# kernel parameters: boot_job RESULTS_NAME PARAMS GUEST_JOB DESCRIPTION
# boots with PARAMS appended, runs GUEST_JOB, prints two TAP lines (the
# job, the kernel log of that boot) and exits 1 at the first failure.
boot_job()
{
	local name=$1 params=$2 job=$3 what=$4 rc=0
	export RESULTS=$REPO/build/$name
	export GMEM_APPEND="${GMEM_APPEND:-} $params"
	echo "booting with $params"
	"$REPO/pipeline/boot.sh" "$job" $((600 * ${GUEST_TIMEOUT_SCALE:-1})) || rc=$?
	sed 's/^/    /' "$RESULTS/job.log" 2>/dev/null | tail -n 20
	if [ $rc -ne 0 ]; then
		echo "not ok 1 - $what (boot.sh exit $rc, see $RESULTS)"
		exit 1
	fi
	echo "ok 1 - $what"
	if ! "$REPO/pipeline/scan-log.sh" "$RESULTS/console.log"; then
		echo "not ok 2 - kernel log of the boot with $params"
		exit 1
	fi
	echo "ok 2 - kernel log of the boot with $params"
}
