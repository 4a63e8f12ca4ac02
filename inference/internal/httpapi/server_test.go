package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/config"
	"github.com/modelgate/modelgate/inference/internal/registry"
)

const catalogPath = "../../../models/catalog.yaml"

const irisRow = `{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}`

func newTestServer(t testing.TB, sel []config.Selection) *Server {
	t.Helper()
	return newTestServerWith(t, sel, func(*Config) {})
}

// newTestServerWith builds a server over the committed catalog after edit
// has adjusted the test configuration.
func newTestServerWith(t testing.TB, sel []config.Selection, edit func(*Config)) *Server {
	t.Helper()
	reg, err := registry.Load(catalogPath, sel)
	require.NoError(t, err)
	var p atomic.Pointer[registry.Registry]
	p.Store(reg)
	var ready atomic.Bool
	ready.Store(true)
	cfg := Config{MaxBatchRows: 1000, MaxBodyBytes: 1 << 20, BuildVersion: "test"}
	edit(&cfg)
	s, err := New(cfg, &p, &ready, slog.New(slog.NewTextHandler(io.Discard, nil)), noop.NewMeterProvider().Meter("test"), nil)
	require.NoError(t, err)
	return s
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func do(t testing.TB, s http.Handler, method, path, contentType, body string, hdr ...string) result {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set(header.ContentType, contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return result{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// badInput is one request that must be answered with a problem.
type badInput struct {
	name         string
	path         string
	contentType  string
	body         string
	wantStatus   int
	wantType     string
	wantPointers []string // nil: not checked
	wantOIPError bool
}

// runBadInput posts every case and checks the problem+json answer: status,
// type, request id, no internals, the violations' pointers and, on the OIP
// routes, the error member OIP clients read.
func runBadInput(t *testing.T, s http.Handler, tests []badInput) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := do(t, s, http.MethodPost, tc.path, tc.contentType, tc.body)
			p := requireProblem(t, res, tc.wantStatus, tc.wantType)
			if tc.wantPointers != nil {
				got := make([]string, len(p.Errors))
				for i, e := range p.Errors {
					got[i] = e.Pointer
				}
				require.ElementsMatch(t, tc.wantPointers, got)
			}
			if tc.wantOIPError {
				require.Equal(t, p.Detail, p.OIPError, "OIP clients read the error member")
			}
		})
	}
}

// requireProblem checks that res is a complete problem+json answer of the
// given status and type, and returns it.
func requireProblem(t *testing.T, res result, wantStatus int, wantType string) problem.Problem {
	t.Helper()
	require.Equal(t, wantStatus, res.status, string(res.body))
	require.Equal(t, header.MediaProblemJSON, res.header.Get(header.ContentType))
	require.NotEmpty(t, res.header.Get(header.RequestID))
	var p problem.Problem
	require.NoError(t, json.Unmarshal(res.body, &p))
	require.Equal(t, wantType, p.Type)
	require.Equal(t, wantStatus, p.Status)
	require.NotEmpty(t, p.Title)
	require.NotEmpty(t, p.Detail)
	require.Equal(t, res.header.Get(header.RequestID), p.RequestID)
	require.NotContains(t, string(res.body), "goroutine", "no stack traces in answers")
	return p
}

// parityFile is a version's committed parity.json: rows and what the
// Python library predicted for them.
type parityFile struct {
	Features []string `json:"features"`
	Outputs  []string `json:"outputs"`
	Rows     []struct {
		X     []float64 `json:"x"`
		Label string    `json:"label"`
		Proba []float64 `json:"proba"`
		Value *float64  `json:"value"`
	} `json:"rows"`
}

// parityVersions are the versions with parity rows.
var parityVersions = [][2]string{{"iris", "1"}, {"iris", "2"}, {"diabetes", "1"}}

func loadParity(t *testing.T, model, version string) parityFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../../models", model, version, "parity.json"))
	require.NoError(t, err)
	var pf parityFile
	require.NoError(t, json.Unmarshal(b, &pf))
	require.NotEmpty(t, pf.Rows)
	return pf
}

func rowsJSON(pf parityFile) string {
	rows := make([]map[string]float64, len(pf.Rows))
	for i, r := range pf.Rows {
		rows[i] = map[string]float64{}
		for j, f := range pf.Features {
			rows[i][f] = r.X[j]
		}
	}
	b, _ := json.Marshal(rows)
	return string(b)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
