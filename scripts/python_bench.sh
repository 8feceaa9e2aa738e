#!/usr/bin/env bash
# The Python benchmark (outside the test suite): dispel4py's pipeline_test under dispel4py
# (stream-d4py) simple/multi/mpi beside dispel4rs with the same Python PEs, where dispel4rs's
# time goes, and the GIL measured. Builds the release binary (with MPI), makes the venv.
#   scripts/python_bench.sh [-n 100000] [--cpu-n 6000] [--reps 3]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
./scripts/python_venv.sh
cargo build --release -p dispel4rs-python --features mpi
VENV=${D4R_PYTHON_VENV:-$PWD/target/python-venv}
exec "$VENV/bin/python" benches/python_pipeline.py --dispel4rs "$PWD/target/release/dispel4rs" --venv "$VENV" "$@"
