#!/usr/bin/env bash
# `make run`: install what is missing, build, and run the whole stack in the
# foreground (see tools/stackrun). Ctrl-C stops everything. XDS=1 (or --xds)
# runs the control plane and bootstraps Envoy over ADS.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}

scripts/install.sh
echo "== building extproc, inference, the control plane and the stack runner into $OUT/"
go build -o "$OUT/extproc" ./extproc/cmd/extproc
go build -o "$OUT/inference" ./inference/cmd/inference
go build -o "$OUT/controlplane" ./controlplane/cmd/controlplane
go build -o "$OUT/stackrun" ./tools/stackrun
args=()
if [[ "${XDS:-}" == 1 ]]; then args+=(--xds); fi
exec "$OUT/stackrun" --out "$OUT" "${args[@]}" "$@"
