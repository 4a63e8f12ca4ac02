//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/tools/stack"
)

// xdsStack is a stack whose Envoy takes everything from the control plane,
// serving a catalog in a folder of its own that the test edits.
type xdsStack struct {
	e            *env
	dir, catPath string
}

// startXDS copies iris 1 and 2 (and 2 again as the shadow 3) and diabetes 1
// into a catalog folder with catalog y, and starts the stack on it.
func startXDS(t *testing.T, y string) *xdsStack {
	t.Helper()
	root, err := stack.RepoRoot(".")
	require.NoError(t, err)
	x := &xdsStack{dir: t.TempDir()}
	for _, v := range []struct{ model, from, to string }{{"iris", "1", "1"}, {"iris", "2", "2"}, {"iris", "2", "3"}, {"diabetes", "1", "1"}} {
		copyVersion(t, filepath.Join(root, "models", v.model, v.from), filepath.Join(x.dir, v.model, v.to), v.to)
	}
	x.catPath = filepath.Join(x.dir, "catalog.yaml")
	writeCatalog(t, x.catPath, y)
	// Room for a version added later: ports up to InferenceBase+5.
	x.e = startEnv(t, bootstrap.Options{}, func(c *stack.Config) {
		c.Catalog, c.XDS = x.catPath, true
		c.Ports = freePorts(t, 6)
	})
	cfg, err := os.ReadFile(x.e.s.EnvoyConfig)
	require.NoError(t, err)
	b, err := bootstrap.Parse(cfg)
	require.NoError(t, err)
	require.NotNil(t, b.GetDynamicResources().GetAdsConfig())
	require.Empty(t, b.GetStaticResources().GetListeners(), "Envoy's only listener comes from the control plane")
	require.Len(t, b.GetStaticResources().GetClusters(), 1, "and every cluster but the control plane's")
	require.Positive(t, x.e.envoyStat(t, "listener_manager.lds.update_success"))
	require.Positive(t, x.e.envoyStat(t, "cluster_manager.cds.update_success"))
	return x
}

// port is the inference port of target index i.
func (x *xdsStack) port(i int) int { return x.e.s.Ports().InferenceBase + i }

// addVersion copies iris 2 as version v, writes catalog y (which lists it,
// under no alias yet), waits until Envoy has its cluster, and starts its
// inference process. It returns the target and how long the cluster took.
func (x *xdsStack) addVersion(t *testing.T, v, y string) (bootstrap.Target, time.Duration) {
	t.Helper()
	copyVersion(t, filepath.Join(x.dir, "iris", "2"), filepath.Join(x.dir, "iris", v), v)
	changed := time.Now()
	writeCatalog(t, x.catPath, y)
	cluster := "inference_iris_" + v + "::"
	var took time.Duration
	eventually(t, 10*time.Second, func() error {
		resp, err := http.Get(x.e.s.AdminURL() + "/clusters")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), cluster) {
			return fmt.Errorf("no cluster %s yet", cluster)
		}
		took = time.Since(changed)
		return nil
	})
	c, err := catalog.Load(x.catPath)
	require.NoError(t, err)
	var target bootstrap.Target
	for _, tg := range bootstrap.Targets(c) {
		if tg.Serve() == "iris:"+v {
			target = tg
		}
	}
	require.Equal(t, len(bootstrap.Targets(c))-1, target.Index, "the new version sorts last, so no other version's port moves")
	require.NoError(t, x.e.s.StartTarget(t.Context(), target))
	return target, took
}

// refuseBroken writes a catalog that does not validate and waits until the
// control plane has refused it; the plugin refuses it too, so the last
// good configuration keeps serving.
func (x *xdsStack) refuseBroken(t *testing.T, broken string) {
	t.Helper()
	_, err := catalog.Parse([]byte(broken))
	require.Error(t, err)
	tmp := x.catPath + ".broken"
	require.NoError(t, os.WriteFile(tmp, []byte(broken), 0o644))
	require.NoError(t, os.Rename(tmp, x.catPath))
	eventually(t, 5*time.Second, func() error {
		b, err := os.ReadFile(x.e.s.Proc(stack.ControlPlane).Log)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), "the last good snapshot stays") {
			return fmt.Errorf("the control plane has not refused the broken catalog yet")
		}
		return nil
	})
}

// end stops the load and waits for its last requests; it may be called again.
func (l *splitLoad) end() {
	l.once.Do(func() {
		close(l.stop)
		l.wg.Wait()
	})
}

// requireAllServed fails unless every request of the load was a 2xx and
// none was answered by the shadow version.
func (l *splitLoad) requireAllServed(t *testing.T, shadow string) {
	t.Helper()
	var failed []result
	for _, r := range l.results {
		if r.err != nil || r.status < 200 || r.status > 299 {
			failed = append(failed, r)
		}
		require.NotEqual(t, shadow, r.version, "the shadow never answers a client")
	}
	require.Empty(t, failed, "%d of %d requests failed", len(failed), len(l.results))
	t.Logf("%d requests under load, none failed", len(l.results))
}
