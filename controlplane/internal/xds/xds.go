// Package xds turns the model catalog into xDS snapshots and publishes them
// to a go-control-plane snapshot cache, which the ADS server streams to
// every Envoy of the gateway. The resources are the static bootstrap's
// (envoy/bootstrap renders both), so Envoy routes the same way whether it
// reads envoy/envoy.yaml or asks the control plane.
package xds

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/internal/catalog"
)

// NodeHash keys snapshots by the node cluster Envoy announces, not its node
// id: every replica of the gateway gets the same snapshot.
type NodeHash struct{}

// ID implements [cache.NodeHash].
func (NodeHash) ID(n *corev3.Node) string { return n.GetCluster() }

// Snapshot builds the snapshot of r. Its version is a digest of the
// resources, so an unchanged catalog yields the same version within one
// process (a restart may renumber, which only costs Envoy a no-op update), and it is
// refused unless consistent (every route table a listener names is in it).
func Snapshot(r *bootstrap.Resources) (*cache.Snapshot, error) {
	res := map[resource.Type][]types.Resource{}
	h := sha256.New()
	add := func(typ resource.Type, m proto.Message) error {
		// protojson, not binary: the Anys inside hold bytes marshalled
		// with random map order, while protojson expands them with their
		// map keys sorted.
		b, err := protojson.Marshal(m)
		if err != nil {
			return err
		}
		h.Write([]byte(typ))
		h.Write(b)
		res[typ] = append(res[typ], m.(types.Resource))
		return nil
	}
	var errs []error
	for _, l := range r.Listeners {
		errs = append(errs, add(resource.ListenerType, l))
	}
	for _, rc := range r.Routes {
		errs = append(errs, add(resource.RouteType, rc))
	}
	for _, c := range r.Clusters {
		errs = append(errs, add(resource.ClusterType, c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	s, err := cache.NewSnapshot(hex.EncodeToString(h.Sum(nil))[:16], res)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if err := s.Consistent(); err != nil {
		return nil, fmt.Errorf("snapshot: inconsistent: %w", err)
	}
	return s, nil
}

// Build renders the resources of a catalog.
type Build func(*catalog.Catalog) (*bootstrap.Resources, error)

// Recorder counts publications; the app backs it with Prometheus.
type Recorder interface {
	// Published records one attempt: ok, or why the last good snapshot stays.
	Published(ok bool)
}

// PublisherConfig configures a [Publisher].
type PublisherConfig struct {
	Cache cache.SnapshotCache
	// Node is the node cluster the snapshots are for.
	Node  string
	Build Build
	// Record may be nil.
	Record Recorder
	Logger *slog.Logger
}

// Publisher builds a snapshot from each catalog it is given and sets it in
// the cache. A catalog that fails to load, render or be consistent is
// logged and counted, and the last good snapshot stays in force.
type Publisher struct {
	cfg     PublisherConfig
	mu      sync.Mutex
	version string
}

// NewPublisher returns a publisher; nothing is published until [Publisher.Publish].
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	if cfg.Cache == nil || cfg.Build == nil || cfg.Node == "" {
		return nil, errors.New("xds: PublisherConfig needs Cache, Build and Node")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Publisher{cfg: cfg}, nil
}

// Publish loads a catalog and publishes its snapshot. It returns the
// version in force and the error that kept the previous one, if any.
func (p *Publisher) Publish(ctx context.Context, load func() (*catalog.Catalog, error)) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, err := p.build(load)
	if err == nil && s.GetVersion(resource.ListenerType) != p.version {
		err = p.cfg.Cache.SetSnapshot(ctx, p.cfg.Node, s)
	}
	if p.cfg.Record != nil {
		p.cfg.Record.Published(err == nil)
	}
	if err != nil {
		p.cfg.Logger.ErrorContext(ctx, "catalog rejected; the last good snapshot stays", "error", err, "version", p.version)
		return p.version, err
	}
	if v := s.GetVersion(resource.ListenerType); v != p.version {
		p.cfg.Logger.InfoContext(ctx, "snapshot published", "version", v, "previous", p.version,
			"clusters", len(s.GetResources(resource.ClusterType)))
		p.version = v
	}
	return p.version, nil
}

func (p *Publisher) build(load func() (*catalog.Catalog, error)) (*cache.Snapshot, error) {
	c, err := load()
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	r, err := p.cfg.Build(c)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return Snapshot(r)
}

// Version is the version of the snapshot in force, "" before the first.
func (p *Publisher) Version() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.version
}
