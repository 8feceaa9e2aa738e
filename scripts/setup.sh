#!/usr/bin/env bash
# Installs what dispel4rs needs on Debian (12+) or Ubuntu, idempotently: the system
# libraries of the ZMQ and MPI transports, libclang for the MPI bindings, Redis for the
# Redis mappings' tests, a Python venv (.venv-prov) with the W3C PROV library `prov`
# from PyPI that the provenance tests read documents with, Python's shared library and venv
# for dispel4rs-python (with dispel4py, which its tests compare with), and headless Chromium
# (with a font) for the HTML run report's browser test (tests/report_html.rs). Safe to run
# again: it installs only what is missing.
set -euo pipefail

PACKAGES=(pkg-config libclang-dev libzmq3-dev redis-server libopenmpi-dev openmpi-bin python3-dev python3-venv chromium fonts-dejavu-core)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: system packages present"
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: no Rust toolchain found. Install one (rustc >= 1.85), e.g. https://rustup.rs, then run again." >&2
    exit 1
  fi
fi
echo "setup: $(cargo --version)"

# The W3C PROV library the provenance tests read documents with (tests/provenance_prov_json.rs).
PROV_VENV="$(cd "$(dirname "$0")/.." && pwd)/.venv-prov"
if "$PROV_VENV/bin/python" -c "import prov.model" >/dev/null 2>&1; then
  echo "setup: prov present in .venv-prov"
else
  echo "setup: making .venv-prov with the prov package (PyPI)"
  python3 -m venv "$PROV_VENV"
  "$PROV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "prov>=2.0,<4"
fi

# dispel4rs-python's tests and benchmark: stream-d4py, mpi4py, numpy in target/python-venv.
"$(dirname "$0")/python_venv.sh"
