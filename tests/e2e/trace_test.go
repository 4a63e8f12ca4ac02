//go:build e2e

package e2e

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// span is what the receiver keeps of one received span.
type span struct {
	service, name         string
	traceID, id, parentID string
}

// otlpReceiver is an OTLP/HTTP trace receiver (POST /v1/traces, protobuf),
// standing in for an OpenTelemetry collector.
type otlpReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []span
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Method != http.MethodPost {
			http.NotFound(w, req)
			return
		}
		b, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var ex coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &ex); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range ex.GetResourceSpans() {
			service := ""
			for _, a := range rs.GetResource().GetAttributes() {
				if a.GetKey() == "service.name" {
					service = a.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					r.spans = append(r.spans, span{service: service, name: s.GetName(),
						traceID: hex.EncodeToString(s.GetTraceId()), id: hex.EncodeToString(s.GetSpanId()),
						parentID: hex.EncodeToString(s.GetParentSpanId())})
				}
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("content-type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// Addr is the receiver's host:port.
func (r *otlpReceiver) Addr() string { return strings.TrimPrefix(r.srv.URL, "http://") }

func (r *otlpReceiver) trace(id string) []span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []span
	for _, s := range r.spans {
		if s.traceID == id {
			out = append(out, s)
		}
	}
	return out
}

// testTraces: the spans of one request arrive from Envoy, extproc (its
// Process call and the authz, validate and cache steps inside it) and the
// inference process, in one trace, each service's call a child of Envoy's.
func testTraces(t *testing.T, o *opsEnv, rcv *otlpReceiver) {
	traceID := "4bf92f3577b34da6a3ce929d0e0e4736"
	a := o.do(t, call{path: "/v2/predict", client: clientPro, body: irisBody(0.777),
		headers: map[string]string{"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"}})
	require.Equal(t, http.StatusOK, a.status, "%s", a)

	// Envoy exports its spans in batches (every 5 s), so the span of its
	// ext_proc call may come after the others.
	var spans []span
	eventually(t, 20*time.Second, func() error {
		spans = rcv.trace(traceID)
		services, envoySpans := map[string]bool{}, map[string]bool{}
		for _, s := range spans {
			services[s.service] = true
			if s.service == "envoy" {
				envoySpans[s.id] = true
			}
		}
		for _, want := range []string{"envoy", "modelgate-extproc", "modelgate-inference"} {
			if !services[want] {
				return fmt.Errorf("no span from %s in trace %s yet: %+v", want, traceID, spans)
			}
		}
		// Each service's call span is a child of an Envoy span; the steps
		// inside extproc are children of its call span.
		ids := map[string]span{}
		for _, s := range spans {
			ids[s.id] = s
		}
		names := map[string]bool{}
		for _, s := range spans {
			names[s.service+" "+s.name] = true
			if s.service == "envoy" {
				continue
			}
			p, ok := ids[s.parentID]
			switch {
			case !ok:
				return fmt.Errorf("%s span %q: parent %s not received (yet): %+v", s.service, s.name, s.parentID, spans)
			case p.service != "envoy" && p.service != s.service:
				return fmt.Errorf("%s span %q has a parent in %s: %+v", s.service, s.name, p.service, spans)
			case p.service == s.service && !envoySpans[p.parentID]:
				return fmt.Errorf("%s span %q: its parent %q is not a child of Envoy's: %+v", s.service, s.name, p.name, spans)
			}
		}
		for _, want := range []string{"modelgate-extproc authz", "modelgate-extproc validate", "modelgate-extproc cache",
			"modelgate-extproc /envoy.service.ext_proc.v3.ExternalProcessor/Process", "modelgate-inference HTTP POST"} {
			if !names[want] {
				return fmt.Errorf("no span %q: %+v", want, spans)
			}
		}
		return nil
	})
	for _, s := range spans {
		if s.service == "envoy" && s.name == "ingress" {
			require.Equal(t, "00f067aa0ba902b7", s.parentID, "Envoy continues the client's traceparent")
		}
	}
}
