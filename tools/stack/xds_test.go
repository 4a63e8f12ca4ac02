package stack

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/internal/catalog"
)

func TestConfig_xds(t *testing.T) {
	t.Parallel()
	root, err := RepoRoot(".")
	require.NoError(t, err)
	run := t.TempDir()
	cfg := Config{Root: root, RunDir: run, XDS: true, Bin: Binaries{ControlPlane: "/bin/true"}}
	require.NoError(t, cfg.defaults())
	require.NoError(t, os.MkdirAll(filepath.Join(run, "logs"), 0o755))
	cat, err := catalog.Load(cfg.Catalog)
	require.NoError(t, err)
	s := &Stack{cfg: cfg, cat: cat, procs: map[string]*Proc{}, targets: bootstrap.Targets(cat)}
	require.NoError(t, s.renderEnvoy())
	y, err := os.ReadFile(s.EnvoyConfig)
	require.NoError(t, err)
	b, err := bootstrap.Parse(y)
	require.NoError(t, err)
	require.Empty(t, b.GetStaticResources().GetListeners(), "Envoy gets its listener over ADS")
	require.Equal(t, filepath.Join(run, XDSSocket), b.GetStaticResources().GetClusters()[0].GetLoadAssignment().
		GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetPipe().GetPath())

	s.define()
	cp := s.Proc(ControlPlane)
	require.NotNil(t, cp)
	for _, want := range [][2]string{
		{"--xds-addr", "unix:" + filepath.Join(run, XDSSocket)},
		{"--catalog", cfg.Catalog},
		{"--extproc", "unix:" + filepath.Join(run, bootstrap.ExtprocSocket)},
		{"--listen", "127.0.0.1:8080"},
	} {
		i := slices.Index(cp.args, want[0])
		require.GreaterOrEqual(t, i, 0, "%v", cp.args)
		require.Equal(t, want[1], cp.args[i+1])
	}

	cfg.Bin.ControlPlane = ""
	s = &Stack{cfg: cfg, cat: cat, procs: map[string]*Proc{}, targets: bootstrap.Targets(cat)}
	require.ErrorContains(t, s.renderEnvoy(), "controlplane binary")
}
