#!/usr/bin/env bash
# Runs every Go fuzz target in the repository for FUZZTIME each (default 3s),
# one after another, and stops at the first failure (the failing input is kept
# under the package's testdata/fuzz/ for `go test` to replay).
#   scripts/fuzz.sh            # every target, 3 s each (make test)
#   FUZZTIME=1m scripts/fuzz.sh  # longer runs (make fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-3s}"
n=0
while IFS=: read -r file name; do
  pkg="./$(dirname "$file")"
  echo "== fuzz $pkg $name ($fuzztime)"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
  n=$((n + 1))
done < <(git ls-files '*_test.go' | xargs grep -Ho '^func Fuzz[A-Za-z0-9_]*' | sed 's/:func /:/' | sort)
echo "== $n fuzz targets ran for $fuzztime each"
