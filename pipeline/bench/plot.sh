#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Plot make bench's guest_memfd CSV: populate+fault time and cross-CPU
# calls against size, one line per path, first VM solid, reuse dashed.
#   plot.sh <bench.csv> <output dir>
set -euo pipefail

CSV=${1:?usage: plot.sh <bench.csv> <output dir>}
DIR=${2:?usage: plot.sh <bench.csv> <output dir>}
command -v gnuplot >/dev/null || { echo "plot.sh: no gnuplot (make deps installs gnuplot-nox)" >&2; exit 1; }
[ -s "$CSV" ] || { echo "plot.sh: no data in $CSV" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# One file per path and run: "size value" lines, for gnuplot to join.
series()	# <column>
{
	rm -f "$TMP"/*.dat
	awk -F, -v col="$1" -v dir="$TMP" 'NR > 1 { print $3, $col >> (dir "/" $1 "-" $4 ".dat") }' "$CSV"
}

plot()	# <png> <column> <y label> <lin|log>
{
	local p r style lines=()
	series "$2"
	for r in first reuse; do
		for p in a b c d; do
			[ -s "$TMP/$p-$r.dat" ] || continue
			style="lw 2"; [ $r = reuse ] && style="dt 2 lw 2"
			lines+=("\"$TMP/$p-$r.dat\" using 1:2 with linespoints $style title \"($p) $r\"")
		done
	done
	gnuplot <<GP
set terminal png size 900,560
set termoption noenhanced
set output "$DIR/$1"
set key top left
set grid
set logscale x 2
$( [ "$4" = log ] && echo 'set logscale y 10' )
set xlabel "private guest_memfd memory (MiB)"
set ylabel "$3"
set title "make bench: $3 (TCG; (b) is a model of the v12 per-folio series)"
plot $(IFS=,; echo "${lines[*]}")
GP
	echo "plot: $DIR/$1"
}

plot bench-time.png 7 "populate+fault time (s)" lin
plot bench-calls.png 9 "cross-CPU calls" log
