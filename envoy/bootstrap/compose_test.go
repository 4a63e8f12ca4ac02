package bootstrap_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/envoy/bootstrap"
)

func TestComposeFileIsCurrent(t *testing.T) {
	t.Parallel()
	c := loadCatalog(t)
	want, err := bootstrap.RenderCompose(c)
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(repo, bootstrap.ComposeFile))
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "compose.yaml is stale: run `go run ./tools/envoygen`")
}

// TestCompose_loadsAndMatchesTheCatalog loads compose.yaml with the compose
// spec's reference loader (what `docker compose` uses) and checks the
// topology against the catalog and the files it names.
func TestCompose_loadsAndMatchesTheCatalog(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(repo)
	require.NoError(t, err)
	content, err := os.ReadFile(filepath.Join(root, bootstrap.ComposeFile))
	require.NoError(t, err)
	p, err := loader.LoadWithContext(t.Context(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, bootstrap.ComposeFile), Content: content}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("modelgate", true) })
	require.NoError(t, err)

	c := loadCatalog(t)
	wantServices := []string{"envoy", "extproc", "ratelimit", "redis"}
	for _, tg := range bootstrap.Targets(c) {
		wantServices = append(wantServices, tg.Service)
	}
	sort.Strings(wantServices)
	require.Equal(t, wantServices, p.ServiceNames())

	t.Run("uses the official images for Envoy, ratelimit and Redis", func(t *testing.T) {
		require.Equal(t, "envoyproxy/envoy:v1.40.0", p.Services["envoy"].Image)
		require.True(t, strings.HasPrefix(p.Services["ratelimit"].Image, "envoyproxy/ratelimit:"))
		require.True(t, strings.HasPrefix(p.Services["redis"].Image, "redis:"))
	})
	t.Run("every service has a health check", func(t *testing.T) {
		for name, s := range p.Services {
			require.NotNil(t, s.HealthCheck, name)
			require.NotEmpty(t, s.HealthCheck.Test, name)
		}
	})
	t.Run("envoy waits for every backend to be healthy", func(t *testing.T) {
		deps := p.Services["envoy"].DependsOn
		for _, name := range wantServices {
			if name == "envoy" || name == "redis" {
				continue
			}
			require.Contains(t, deps, name)
			require.Equal(t, types.ServiceConditionHealthy, deps[name].Condition, name)
		}
		require.Equal(t, types.ServiceConditionHealthy, p.Services["ratelimit"].DependsOn["redis"].Condition)
	})
	t.Run("each inference service serves its own version on the port envoy uses", func(t *testing.T) {
		addrs := bootstrap.Compose(c)
		for _, tg := range bootstrap.Targets(c) {
			s := p.Services[tg.Service]
			require.Equal(t, tg.Serve(), *s.Environment["INFERENCE_SERVE"], tg.Service)
			ep := addrs.Inference[tg.Serve()]
			require.Equal(t, tg.Service, ep.Host)
			require.Equal(t, ":"+strconv.Itoa(ep.Port), *s.Environment["INFERENCE_ADDR"])
		}
	})
	t.Run("every file it names exists", func(t *testing.T) {
		for name, s := range p.Services {
			for _, v := range s.Volumes {
				if v.Type == types.VolumeTypeBind {
					_, err := os.Stat(v.Source)
					require.NoError(t, err, "%s mounts %s", name, v.Source)
				}
			}
			if s.Build != nil {
				df := filepath.Join(s.Build.Context, s.Build.Dockerfile)
				_, err := os.Stat(df)
				require.NoError(t, err, "%s builds from %s", name, df)
				checkDockerfile(t, root, df)
			}
		}
	})
}

var copyFromSrc = regexp.MustCompile(`/src/([^\s]+)`)

// checkDockerfile checks that a Dockerfile is multi-stage, ends as a
// non-root user, and that every repository path its build stage copies
// out of /src exists.
func checkDockerfile(t *testing.T, root, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	text := string(b)
	require.GreaterOrEqual(t, strings.Count(text, "\nFROM "), 2, "%s: multi-stage", path)
	stages := strings.Split(text, "\nFROM ")
	final := stages[len(stages)-1]
	require.Regexp(t, `(?m)^USER nonroot`, final, "%s: runtime stage runs as non-root", path)
	for _, m := range copyFromSrc.FindAllStringSubmatch(final, -1) {
		_, err := os.Stat(filepath.Join(root, strings.TrimSuffix(m[1], "/")))
		require.NoError(t, err, "%s copies /src/%s", path, m[1])
	}
}

// TestCompose_internalsArePrivate: only Envoy's listener is published, and
// every internal hop is on an internal network shared only by its two ends.
func TestCompose_internalsArePrivate(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(repo)
	require.NoError(t, err)
	content, err := os.ReadFile(filepath.Join(root, bootstrap.ComposeFile))
	require.NoError(t, err)
	p, err := loader.LoadWithContext(t.Context(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, bootstrap.ComposeFile), Content: content}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("modelgate", true) })
	require.NoError(t, err)

	members := map[string][]string{}
	for name, s := range p.Services {
		if name != "envoy" {
			require.Empty(t, s.Ports, "%s publishes a port", name)
		}
		require.NotEmpty(t, s.Networks, "%s is on the default network, reachable by every container", name)
		for n := range s.Networks {
			members[n] = append(members[n], name)
		}
	}
	require.Len(t, p.Services["envoy"].Ports, 1, "only the client listener; admin stays in the container")
	for n, ms := range members {
		if n == "edge" {
			require.Equal(t, []string{"envoy"}, ms)
			continue
		}
		require.True(t, p.Networks[n].Internal, "network %s must be internal", n)
	}
	sort.Strings(members["store"])
	require.Equal(t, []string{"ratelimit", "redis"}, members["store"], "only the ratelimit service reaches Redis")
	require.NotContains(t, members["plugin"], "redis")
	for _, m := range members["models"] {
		require.True(t, m == "envoy" || strings.HasPrefix(m, "inference-"), "%s reaches the model servers", m)
	}
}
