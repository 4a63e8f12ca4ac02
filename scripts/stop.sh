#!/usr/bin/env bash
# Stops a running `make run` from another terminal, or what a crashed run
# left behind (normally nothing: Ctrl-C stops everything, children die with
# the runner, and the next run cleans up by itself). Only processes recorded
# in <run dir> whose executable still matches are signalled, so unrelated
# processes are never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${1:-.run}

# matches FILE: the pid in FILE still runs the recorded executable.
matches() {
  local pid exe
  [ -f "$1" ] || return 1
  read -r pid exe <"$1" 2>/dev/null || return 1
  [ -n "${pid:-}" ] && [ "$pid" -gt 1 ] 2>/dev/null || return 1
  [ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" = "$exe" ] || return 1
  echo "$pid"
}

# The runner first: it stops its children in order and removes its files.
if pid=$(matches "$RUN_DIR/stackrun.pid"); then
  echo "stopping the stack runner (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi

shopt -s nullglob
stopped=0
for f in "$RUN_DIR"/pids/*.pid; do
  pid=$(matches "$f") || { rm -f "$f"; continue; }
  rm -f "$f"
  echo "stopping $(basename "$f" .pid) (pid $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  stopped=$((stopped + 1))
done
echo "nothing of the stack is left running ($stopped leftover process(es) stopped)"
