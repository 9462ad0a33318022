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
re=$(IFS='|'; echo "${PATTERNS[*]}")
hits=$(grep -nE "$re" "$LOGF" || true)
[ -z "$hits" ] && exit 0

# Report each distinct headline once, with what follows it.
printf '%s\n' "$hits" | grep -v 'cut here' | head -5 | while IFS=: read -r n line; do
	printf 'kernel report at console.log:%s: %s\n' "$n" "$(echo "$line" | sed 's/^\[[ 0-9.]*\] //')"
	sed -n "$((n + 1)),$((n + 12))p" "$LOGF" | sed 's/^/    /'
done
exit 1
