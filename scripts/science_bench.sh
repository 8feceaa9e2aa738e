#!/usr/bin/env bash
# The science workloads side by side (see benches/science.rs): xcorr pairs/s under simple,
# multi (and dyn_multi when built) beside a NumPy/SciPy/ObsPy reference (its venv is made in
# target/science-venv on first use), and int_ext galaxies/s against a local VO service that
# answers in 20 ms. Prints the machine, builds release, runs `cargo bench --bench science`,
# and leaves the results in target/science.json.
#
#   scripts/science_bench.sh                  # S = 100 stations, 3 repetitions
#   scripts/science_bench.sh --reps 5 --only xcorr
#
# Arguments are passed to the benchmark (`--help` lists them). The machine may be shared:
# compare the ratios, not absolute rates.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== machine"
echo "nproc:        $(nproc)"
echo "cpu:          $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "rustc:        $(rustc --version)"
echo "python3:      $(python3 --version 2>&1)"
echo "commit:       $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (uncommitted changes)')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (before)"

echo "== build (release)"
cargo build --release --examples
cargo bench --bench science --no-run

echo "== run"
cargo bench --bench science -- --no-build "$@"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (after)"
