#!/usr/bin/env bash
# `make run`: install what is missing, build, and run the whole stack in the
# foreground (see tools/stackrun). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}

scripts/install.sh
echo "== building extproc, inference and the stack runner into $OUT/"
go build -o "$OUT/extproc" ./extproc/cmd/extproc
go build -o "$OUT/inference" ./inference/cmd/inference
go build -o "$OUT/stackrun" ./tools/stackrun
exec "$OUT/stackrun" --out "$OUT" "$@"
