#!/usr/bin/env bash
# Two builds of the `pipeline` example side by side: the same run (N = 10 M, `multi -n 2`)
# alternating between them, and the median of the paired ratios of the report's elapsed
# time (B / A). Used to show that a feature that is off costs nothing, e.g. provenance:
#   git worktree add /tmp/before <commit-before> && (cd /tmp/before && cargo build --release --all-features --example pipeline)
#   scripts/paired_binaries.sh /tmp/before/target/release/examples/pipeline target/release/examples/pipeline 7
set -euo pipefail
A=${1:?usage: paired_binaries.sh BINARY_A BINARY_B [REPS]}
B=${2:?usage: paired_binaries.sh BINARY_A BINARY_B [REPS]}
REPS=${3:-7}
D='{"source": [{"n": 10000000}]}'
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ratios=()
for i in $(seq "$REPS"); do
  "$A" multi -n 2 -q -d "$D" --report "$tmp/a.json" >/dev/null 2>&1
  "$B" multi -n 2 -q -d "$D" --report "$tmp/b.json" >/dev/null 2>&1
  r=$(python3 -c "import json; a=json.load(open('$tmp/a.json'))['elapsed_s']; b=json.load(open('$tmp/b.json'))['elapsed_s']; print(f'{a:.3f} {b:.3f} {b/a:.3f}')")
  read -r ta tb ratio <<<"$r"
  echo "rep $i: A $ta s, B $tb s, B/A $ratio"
  ratios+=("$ratio")
done
python3 -c "import statistics,sys; r=sorted(map(float,sys.argv[1:])); print(f'B/A elapsed: median {statistics.median(r):.3f} ({r[0]:.3f}..{r[-1]:.3f}) over {len(r)} pairs')" "${ratios[@]}"
