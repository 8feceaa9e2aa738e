#!/usr/bin/env bash
# dispel4rs against Timely Dataflow, reproducibly: prints the machine, builds release, runs
# `cargo bench --bench compare` (see benches/compare.rs for what is measured) and leaves
# the results in target/compare.json.
#
#   scripts/compare.sh                      # full sizes (N = 10 M, 5 MiB of text), 5 repetitions
#   scripts/compare.sh --quick              # smaller sizes
#   scripts/compare.sh --only wordcount --reps 9
#   scripts/compare.sh --only multi            # multi -n2/-n4 vs timely -w2, tail, restart latency
#   scripts/compare.sh --only cluster          # zmq_multi, mpi end to end, raw transports
#
# Arguments are passed to the benchmark (`--help` lists them). The machine may be shared:
# the load average is printed before and after; compare the ratios, not absolute rates.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== machine"
echo "nproc:        $(nproc)"
echo "cpu:          $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "memory:       $(free -h | awk '/^Mem:/ {print $2}')"
echo "kernel:       $(uname -sr)"
echo "rustc:        $(rustc --version)"
echo "cargo:        $(cargo --version)"
echo "commit:       $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (uncommitted changes)')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (before)"

echo "== build (release)"
# The zmq_multi / mpi / raw-transport rows run these binaries as child processes. The bench
# runs the same build itself (a no-op by then) unless given --no-build; without MPI installed,
# --all-features fails: the bench then builds without it and skips the mpi rows.
cargo build --release --all-features --examples -p dispel4rs -p dispel4rs-transports \
  || cargo build --release --examples -p dispel4rs -p dispel4rs-transports
cargo bench --bench compare --no-run
echo "mpirun:       $(command -v mpirun >/dev/null && mpirun --version 2>/dev/null | head -1 || echo 'not found')"

echo "== run"
cargo bench --bench compare -- "$@"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (after)"
