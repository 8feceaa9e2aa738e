#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, checks formatting and
# lints, then runs every test of the workspace with every feature (the MPI transport
# included). Tests start their own servers and MPI jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"

# Open MPI refuses to run as root without these; tests launch mpirun themselves.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# A Redis for tests that want one (they prefer a server of their own on a free port).
if command -v redis-cli >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
cargo test --workspace --all-features "$@"
