#!/usr/bin/env bash
# Installs what is missing, builds, and counts the words of the sample text with the
# default local mapping (`multi`: every PE instance an actor, all cores, no servers).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
cargo run --release --example wordcount -- multi -d '{"read": [{"path": "examples/data/sample.txt"}]}' "$@"
