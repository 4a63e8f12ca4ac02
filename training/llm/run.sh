#!/usr/bin/env bash
# Retrain scribe (the built-in LLM) and rewrite models/scribe/1 and the Go
# parity file. What `make llm-model` runs; CI never does.
#
# Needs Debian's bible-kjv and bible-kjv-text packages (the corpus) and
# Python 3.11. Creates (or reuses) training/llm/.venv-train with the pinned
# requirements. Takes about 15 minutes on two shared cores.
#   training/llm/run.sh                  # train.py defaults, then export
#   training/llm/run.sh --steps 100      # extra arguments go to train.py
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/training/llm"
venv="$here/.venv-train"
req="$here/requirements.txt"

if ! command -v bible >/dev/null 2>&1 || [ ! -e /usr/lib/bible.data ]; then
  echo "the corpus is missing: apt-get install -y bible-kjv bible-kjv-text" >&2
  exit 1
fi

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

cd "$root"
export PYTHONHASHSEED=0
nice "$venv/bin/python" "$here/train.py" --out "$here/out" "$@"
cp "$here/out/train.json" "$here/last-run.json"
nice "$venv/bin/python" "$here/export.py" --run "$here/out" \
  --model-dir "$root/models/scribe/1" \
  --parity "$root/inference/internal/llm/testdata/parity.json"
