#!/usr/bin/env bash
# Creates, idempotently, the Python virtual environment of the dispel4rs-python tests and of
# the Python benchmark: stream-d4py (dispel4py from PyPI: the reference the compatibility
# tests compare with), mpi4py (its MPI mapping) and numpy. Safe to run concurrently (a lock)
# and again (it checks the imports and installs only when one fails).
#   D4R_PYTHON_VENV  where (default: target/python-venv)
#   PYO3_PYTHON      the interpreter to base it on (default: python3, the one dispel4rs-python
#                    is built against: numpy's compiled parts must match its version)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${D4R_PYTHON_VENV:-$ROOT/target/python-venv}
PY=${PYO3_PYTHON:-python3}
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9
check() { "$VENV/bin/python" -c "import dispel4py.new.processor, mpi4py, numpy" >/dev/null 2>&1; }
if [ -x "$VENV/bin/python" ] && check; then
  echo "python venv: ready ($VENV)"
  exit 0
fi
echo "python venv: creating $VENV (stream-d4py, mpi4py, numpy from PyPI)"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "stream-d4py==2.9.1" mpi4py numpy
check || { echo "python venv: $VENV was made but dispel4py, mpi4py or numpy do not import" >&2; exit 1; }
echo "python venv: ready ($VENV)"
