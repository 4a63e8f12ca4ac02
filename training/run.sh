#!/usr/bin/env bash
# Train modelgate's bundled models and write their artifacts under models/.
#
# Creates (or reuses) a project-local virtualenv .venv-train with the pinned
# requirements, then runs train.py. Extra arguments go to train.py, e.g.
#   training/run.sh --created 2027-01-01T00:00:00Z
# PYTHON picks the interpreter (default: python3.11, else python3).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-train"
req="$root/training/requirements.txt"

py="${PYTHON:-}"
if [ -z "$py" ]; then
  if command -v python3.11 >/dev/null 2>&1; then py=python3.11; else py=python3; fi
fi

# (Re)create the venv when missing or when requirements.txt changed.
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$venv"
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: -r "$req"
  echo "$want" >"$stamp"
fi

# Single-threaded numerics: the same summation order on every machine, so
# re-running reproduces the committed files.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0
exec "$venv/bin/python" "$root/training/train.py" "$@"
