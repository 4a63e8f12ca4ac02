#!/usr/bin/env bash
# Stops what a stack run left behind (normally nothing: Ctrl-C on `make run`
# stops everything, and the next run cleans up after a crash by itself).
# Only processes recorded in <run dir>/pids whose executable still matches
# are signalled, so unrelated processes are never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${1:-.run}

shopt -s nullglob
stopped=0
for f in "$RUN_DIR"/pids/*.pid; do
  read -r pid exe <"$f" || true
  rm -f "$f"
  [ -n "${pid:-}" ] && [ "$pid" -gt 1 ] 2>/dev/null || continue
  [ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" = "$exe" ] || continue
  name=$(basename "$f" .pid)
  echo "stopping $name (pid $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  stopped=$((stopped + 1))
done
echo "stopped $stopped process(es)"
