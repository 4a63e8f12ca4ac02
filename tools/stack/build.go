package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// RateLimitModule is the ratelimit service's main package, pinned by the
// tool line in go.mod.
const RateLimitModule = "github.com/envoyproxy/ratelimit/src/service_cmd"

// Build compiles extproc, inference, the control plane and the ratelimit
// service into outDir.
// Go's build cache makes a rebuild without changes take about a second.
func Build(ctx context.Context, root, outDir string) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	for _, b := range []struct{ out, pkg string }{
		{"extproc", "./extproc/cmd/extproc"},
		{"inference", "./inference/cmd/inference"},
		{"controlplane", "./controlplane/cmd/controlplane"},
		{"ratelimit", RateLimitModule},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(outDir, b.out), b.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
		}
	}
	return nil
}

// LookupBinaries finds the executables: the Go binaries in outDir (build
// them first, see Build), Envoy via FindEnvoy, redis-server on PATH.
func LookupBinaries(root, outDir string) (Binaries, error) {
	var errs []error
	b := Binaries{
		Extproc:   filepath.Join(outDir, "extproc"),
		Inference: filepath.Join(outDir, "inference"),
		RateLimit: filepath.Join(outDir, "ratelimit"),
	}
	for _, p := range []string{b.Extproc, b.Inference, b.RateLimit} {
		if !exists(p) {
			errs = append(errs, fmt.Errorf("%s missing: run scripts/install.sh and build (scripts/run.sh does both)", p))
		}
	}
	var err error
	if b.Envoy, err = FindEnvoy(root); err != nil {
		errs = append(errs, err)
	}
	if b.Redis, err = exec.LookPath("redis-server"); err != nil {
		errs = append(errs, errors.New("redis-server not on PATH: run scripts/install.sh (apt-get install redis-server)"))
	}
	// Optional here; Start says so when a stack that needs it lacks it.
	b.Prometheus, _ = exec.LookPath("prometheus")
	if p := filepath.Join(outDir, "controlplane"); exists(p) {
		b.ControlPlane = p
	}
	return b, errors.Join(errs...)
}
