package stack

import (
	"errors"
	"path/filepath"
	"strconv"

	"github.com/modelgate/modelgate/envoy/bootstrap"
)

// ControlPlane is the process name of the xDS control plane (Config.XDS).
const ControlPlane = "controlplane"

// XDSSocket is the control plane's ADS socket in the run directory.
const XDSSocket = "xds.sock"

// xdsSocket is where the control plane serves ADS.
func (s *Stack) xdsSocket() string { return filepath.Join(s.cfg.RunDir, XDSSocket) }

// renderADS is the Envoy bootstrap of an XDS stack: node, admin and the
// control plane's cluster; everything else comes over ADS. Without XDS it
// is the static bootstrap.
func (s *Stack) renderADS(a bootstrap.Addresses, static []byte) ([]byte, error) {
	if !s.cfg.XDS {
		return static, nil
	}
	if s.cfg.Bin.ControlPlane == "" {
		return nil, errors.New("stack: XDS needs the controlplane binary (stack.Build builds it)")
	}
	return bootstrap.RenderADS(s.cat, a, s.cfg.Options, bootstrap.Unix(s.xdsSocket()))
}

// defineControlPlane adds the control plane, serving the same addresses
// the static bootstrap would have named (a), from the stack's catalog,
// which it watches.
func (s *Stack) defineControlPlane(a bootstrap.Addresses) {
	c := s.cfg
	args := []string{
		"--xds-addr", "unix:" + s.xdsSocket(), "--catalog", c.Catalog, "--log-format", "json",
		"--listen", a.Listen.String(), "--extproc", a.Extproc.String(), "--ratelimit", a.RateLimit.String(),
		"--inference-base-port", strconv.Itoa(c.Ports.InferenceBase), "--access-log", a.AccessLog,
	}
	if a.Tracing != nil {
		args = append(args, "--otlp", a.Tracing.String())
	}
	if c.Options.ExtAuthz {
		args = append(args, "--ext-authz")
	}
	if c.Options.SingleRateLimitStage {
		args = append(args, "--single-ratelimit-stage")
	}
	s.add(&Proc{Name: ControlPlane, bin: c.Bin.ControlPlane, args: args, health: dialOK("unix", s.xdsSocket())})
	s.sockets = append(s.sockets, s.xdsSocket())
}
