package xds_test

import (
	"errors"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/controlplane/internal/xds"
	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/internal/catalog"
)

const one = `
default_model: iris
models:
  iris: {versions: ["1"]}
`

const two = `
default_model: iris
models:
  iris: {versions: ["1", "2"], aliases: {stable: {"1": 90, "2": 10}}}
`

func parse(y string) func() (*catalog.Catalog, error) {
	return func() (*catalog.Catalog, error) { return catalog.Parse([]byte(y)) }
}

func build(c *catalog.Catalog) (*bootstrap.Resources, error) {
	return bootstrap.BuildResources(c, bootstrap.Local(c, bootstrap.DefaultPorts(), "/dev/stdout").WithSockets(".run"), bootstrap.Options{})
}

type counts struct{ ok, failed int }

func (c *counts) Published(ok bool) {
	if ok {
		c.ok++
	} else {
		c.failed++
	}
}

func TestPublisher(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sc := cache.NewSnapshotCache(true, xds.NodeHash{}, nil)
	rec := &counts{}
	p, err := xds.NewPublisher(xds.PublisherConfig{Cache: sc, Node: bootstrap.NodeCluster, Build: build, Record: rec})
	require.NoError(t, err)

	v1, err := p.Publish(ctx, parse(one))
	require.NoError(t, err)
	require.NotEmpty(t, v1)
	snap, err := sc.GetSnapshot(bootstrap.NodeCluster)
	require.NoError(t, err)
	require.Contains(t, snap.GetResources(resource.ClusterType), "inference_iris_1")
	require.NotContains(t, snap.GetResources(resource.ClusterType), "inference_iris_2")
	require.Contains(t, snap.GetResources(resource.RouteType), bootstrap.RouteConfigName)

	again, err := p.Publish(ctx, parse(one))
	require.NoError(t, err)
	require.Equal(t, v1, again, "the same catalog is the same version")

	v, err := p.Publish(ctx, parse("models: [broken"))
	require.Error(t, err, "a catalog that fails to load")
	require.Equal(t, v1, v, "keeps the last good snapshot")
	_, err = p.Publish(ctx, func() (*catalog.Catalog, error) { return nil, errors.New("disk gone") })
	require.ErrorContains(t, err, "disk gone")

	v2, err := p.Publish(ctx, parse(two))
	require.NoError(t, err)
	require.NotEqual(t, v1, v2, "a new version is a new snapshot")
	snap, err = sc.GetSnapshot(bootstrap.NodeCluster)
	require.NoError(t, err)
	require.Contains(t, snap.GetResources(resource.ClusterType), "inference_iris_2")
	require.Equal(t, v2, p.Version())
	require.Equal(t, counts{ok: 3, failed: 2}, *rec)
}

func TestPublisher_refusesAnInconsistentSnapshot(t *testing.T) {
	t.Parallel()
	sc := cache.NewSnapshotCache(true, xds.NodeHash{}, nil)
	p, err := xds.NewPublisher(xds.PublisherConfig{Cache: sc, Node: bootstrap.NodeCluster, Build: build})
	require.NoError(t, err)
	good, err := p.Publish(t.Context(), parse(one))
	require.NoError(t, err)
	// The listener names route table "modelgate"; drop it.
	noRoutes := func(c *catalog.Catalog) (*bootstrap.Resources, error) {
		r, err := build(c)
		if err == nil {
			r.Routes = nil
		}
		return r, err
	}
	p2, err := xds.NewPublisher(xds.PublisherConfig{Cache: sc, Node: bootstrap.NodeCluster, Build: noRoutes})
	require.NoError(t, err)
	_, err = p2.Publish(t.Context(), parse(two))
	require.ErrorContains(t, err, "inconsistent")
	snap, err := sc.GetSnapshot(bootstrap.NodeCluster)
	require.NoError(t, err)
	require.Equal(t, good, snap.GetVersion(resource.ListenerType), "the good snapshot stays in the cache")
}

func TestNodeHash_keysByNodeCluster(t *testing.T) {
	t.Parallel()
	require.Equal(t, "modelgate", xds.NodeHash{}.ID(&corev3.Node{Id: "envoy-7", Cluster: "modelgate"}))
}
