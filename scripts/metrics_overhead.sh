#!/usr/bin/env bash
# What observing a run costs (issue 11): `pipeline` with N items under `multi -n 2`, run as a
# user runs it (the release example binary), plain and with `--metrics` (every instance
# probed, the sampler every 100 ms, the Prometheus recorder), and with `--metrics` and an
# HTML report, the three alternating within each repetition so that all see the same load.
# Prints every run's wall and CPU time (user + system), the medians, and the cost:
# median(observed) / median(plain), and the median of the ratios paired per repetition.
#
#   scripts/metrics_overhead.sh                 # N = 10,000,000, 7 repetitions
#   N=1000000 REPS=3 scripts/metrics_overhead.sh
#   MAPPING="zmq_multi -n 3" scripts/metrics_overhead.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000000}
REPS=${REPS:-7}
MAPPING=${MAPPING:-"multi -n 2"}

cargo build --release --all-features --example pipeline --quiet
BIN=target/release/examples/pipeline
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
expected="\"count\":$N"

# run LABEL [ARGS...]: one run; appends its wall time to $tmp/LABEL and its CPU time (user +
# system, of every thread) to $tmp/LABEL.cpu, in seconds.
run() {
  local label=$1
  shift
  local TIMEFORMAT="%R %U %S"
  # shellcheck disable=SC2086
  { time "$BIN" $MAPPING -d "{\"source\": [{\"n\": $N}]}" -q -o "$tmp/out.jsonl" "$@" 2>"$tmp/stderr"; } 2>"$tmp/time" ||
    { cat "$tmp/stderr" >&2; exit 1; }
  grep -q "$expected" "$tmp/out.jsonl" || { echo "wrong answer under $label: $(cat "$tmp/out.jsonl")" >&2; exit 1; }
  awk '{print $1}' "$tmp/time" >> "$tmp/$label"
  awk '{print $2 + $3}' "$tmp/time" >> "$tmp/$label.cpu"
}

# paired A B: the median over repetitions of A's time over B's in the same repetition.
paired() { paste "$tmp/$1" "$tmp/$2" | awk '{print $1 / $2}' > "$tmp/ratio"; median "$tmp/ratio"; }

median() { sort -g "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "pipeline N=$N under $MAPPING, $REPS repetitions (+1 warm-up), alternating; wall seconds"
run warmup >/dev/null
run warmup --metrics 127.0.0.1:0 >/dev/null
for r in $(seq 1 "$REPS"); do
  run plain
  run metrics --metrics 127.0.0.1:0
  run report --metrics 127.0.0.1:0 --report "$tmp/run.html"
  printf 'rep %d: plain %.3f (cpu %.3f)  --metrics %.3f (cpu %.3f)  --metrics --report x.html %.3f (cpu %.3f)\n' "$r" \
    "$(tail -1 "$tmp/plain")" "$(tail -1 "$tmp/plain.cpu")" "$(tail -1 "$tmp/metrics")" \
    "$(tail -1 "$tmp/metrics.cpu")" "$(tail -1 "$tmp/report")" "$(tail -1 "$tmp/report.cpu")"
done
p=$(median "$tmp/plain")
m=$(median "$tmp/metrics")
h=$(median "$tmp/report")
pc=$(median "$tmp/plain.cpu")
mc=$(median "$tmp/metrics.cpu")
hc=$(median "$tmp/report.cpu")
printf 'median wall: plain %.3f s (%.2f M items/s)  --metrics %.3f s  --metrics + HTML report %.3f s\n' \
  "$p" "$(echo "$N / $p / 1000000" | bc -l)" "$m" "$h"
printf 'median cpu:  plain %.3f s  --metrics %.3f s  --metrics + HTML report %.3f s\n' "$pc" "$mc" "$hc"
printf 'cost of --metrics: wall ratio of medians %.4f, median of paired ratios %.4f; cpu %.4f, paired %.4f\n' \
  "$(echo "$m / $p" | bc -l)" "$(paired metrics plain)" "$(echo "$mc / $pc" | bc -l)" "$(paired metrics.cpu plain.cpu)"
printf 'with the HTML report too: wall %.4f, paired %.4f; cpu %.4f, paired %.4f\n' \
  "$(echo "$h / $p" | bc -l)" "$(paired report plain)" "$(echo "$hc / $pc" | bc -l)" "$(paired report.cpu plain.cpu)"
