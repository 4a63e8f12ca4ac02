package stack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// RateLimitModule is the ratelimit service's main package, pinned by the
// tool line in go.mod.
const RateLimitModule = "github.com/envoyproxy/ratelimit/src/service_cmd"

// Build compiles extproc, inference and the ratelimit service into outDir.
// Go's build cache makes a rebuild without changes take about a second.
func Build(ctx context.Context, root, outDir string) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	for _, b := range []struct{ out, pkg string }{
		{"extproc", "./extproc/cmd/extproc"},
		{"inference", "./inference/cmd/inference"},
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
