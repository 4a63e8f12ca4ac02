// Package stack starts and stops the whole modelgate stack on one machine:
// Redis, the envoyproxy/ratelimit service, extproc, one inference process
// per catalog version, and Envoy. `make run` (scripts/run.sh) and the
// end-to-end tests (tests/e2e) both use it, so what the tests prove is what
// developers run.
//
// Every process runs in its own process group with its log in the run
// directory; Stop signals the groups (SIGTERM, then SIGKILL), so nothing is
// left behind. Pids are recorded in the run directory, and a new Start
// cleans up what a crashed previous run left (scripts/stop.sh does the same
// by hand).
package stack
