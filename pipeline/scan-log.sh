#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Find kernel reports in a console log: WARN, BUG, Oops, lockdep, KASAN,
# UBSAN, list corruption, RCU stalls, hung tasks.  Prints one line per
# report with its first lines of context; exits 1 if there is any.
set -euo pipefail
LOGF=${1:?usage: scan-log.sh <console.log>}

PATTERNS=(
	'------------\[ cut here \]------------'
	'WARNING: '
	'BUG: '
	'kernel BUG at'
	'Oops'
	'general protection fault'
	'Kernel panic'
	'DEBUG_LOCKS_WARN_ON'
	'INFO: possible'
	'INFO: lockdep'
	'KASAN'
	'UBSAN'
	'list_(add|del) corruption'
	'rcu: INFO: .* stall'
	'INFO: task .* blocked for more than'
)
[ -r "$LOGF" ] || { echo "kernel report: no console log at $LOGF" >&2; exit 1; }
# Kernel lines only (printk timestamps): the tests' own output on the same
# console must not count.
re="^\\[ *[0-9]+\\.[0-9]+\\] .*($(IFS='|'; echo "${PATTERNS[*]}"))"
# grep: 0 found, 1 clean; anything else means we could not scan, so fail.
rc=0
hits=$(grep -nE -e "$re" "$LOGF") || rc=$?
[ $rc -eq 1 ] && exit 0
[ $rc -eq 0 ] || { echo "kernel report: grep failed ($rc) scanning $LOGF" >&2; exit 1; }

# One entry per distinct report: how often, during which test (the guest
# prints "guest-test: start <name>"), and the first frames of its trace.
awk -v re="$re" '
	function strip(l) { sub(/^\[[ 0-9.]*\] /, "", l); return l }
	/guest-test: start / { test = $NF }
	{ line = strip($0) }
	# Inside a report (up to its end marker or 80 lines): keep the
	# reliable frames, those not marked "?".
	inrep && (line ~ /^---\[ end trace/ || NR - at[cur] > 80) { inrep = 0 }
	inrep && line ~ /^ +[a-zA-Z_][a-zA-Z_.0-9]*\+0x/ && frames < 8 {
		if (count[cur] == 1) trace[cur] = trace[cur] "        " line "\n"
		frames++
	}
	$0 ~ re && line !~ /cut here/ {
		key = line; sub(/CPU: [0-9]+ PID: [0-9]+/, "", key)
		if (!(key in count)) { order[++n] = key; first[key] = line; when[key] = test; at[key] = NR }
		count[key]++; cur = key; inrep = 1; frames = 0
	}
	END {
		for (i = 1; i <= n && i <= 5; i++) {
			k = order[i]
			printf "kernel report at console.log:%d (%dx, during %s): %s\n", at[k], count[k], when[k] == "" ? "boot" : when[k], first[k]
			printf "%s", trace[k]
		}
		if (n > 5) printf "... and %d more distinct reports\n", n - 5
	}' "$LOGF"
exit 1
