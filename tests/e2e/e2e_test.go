//go:build e2e

// Package e2e is modelgate's end-to-end suite: real Envoy, the real
// extproc plugin, the envoyproxy/ratelimit service on a real Redis, and one
// real inference process per catalog version, all on loopback, started by
// the same harness as `make run` (tools/stack). Run it with `make test-e2e`
// (go test -tags e2e ./tests/e2e/).
package e2e

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/tools/loadgen"
	"github.com/modelgate/modelgate/tools/stack"
)

func loadCatalog(t *testing.T, root string) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load(filepath.Join(root, "models", "catalog.yaml"))
	require.NoError(t, err)
	return c
}

// TestModelgate is the whole suite, once per Envoy filter chain: the
// default one (keys and quotas checked in the plugin's ext_proc stream) and
// the ext_authz one (Envoy's ext_authz and ratelimit filters). Every
// guarantee holds in both.
func TestModelgate(t *testing.T) {
	t.Run("ext_proc chain", func(t *testing.T) { testSuite(t, bootstrap.Options{}) })
	t.Run("ext_authz chain", func(t *testing.T) { testSuite(t, bootstrap.Options{ExtAuthz: true}) })
}

// testSuite runs every test on one stack. Subtests run in order; the fault
// tests come last because they stop and restart processes.
func testSuite(t *testing.T, opts bootstrap.Options) {
	e := startEnv(t, opts)
	cat := loadCatalog(t, e.root)
	// Let the short-lived key expire.
	time.Sleep(time.Until(e.started.Add(1200 * time.Millisecond)))

	t.Run("authentication", func(t *testing.T) { testAuthentication(t, e) })
	t.Run("validation", func(t *testing.T) { testValidation(t, e) })
	t.Run("routing", func(t *testing.T) { testRouting(t, e, cat) })
	t.Run("cache", func(t *testing.T) { testCache(t, e) })
	t.Run("deprecation", func(t *testing.T) { testDeprecation(t, e) })
	t.Run("gateway", func(t *testing.T) { testGateway(t, e) })
	t.Run("contract", func(t *testing.T) { testContract(t, e) })
	t.Run("quotas", func(t *testing.T) { testQuotas(t, e) })
	t.Run("text generation", func(t *testing.T) { testLLM(t, e) })
	t.Run("load", func(t *testing.T) { testLoad(t, e) })
	t.Run("faults", func(t *testing.T) { testFaults(t, e) })
}

func testAuthentication(t *testing.T, e *env) {
	bogus := "mg_live_abcdefgh" + strings.Repeat("a", 52)
	tests := []struct {
		name    string
		call    call
		wantErr int
	}{
		{"rejects a request without a key", call{path: "/v2/predict", body: irisBody(0)}, 401},
		{"rejects an unknown key", call{path: "/v2/predict", body: irisBody(0), headers: map[string]string{"x-api-key": bogus}}, 401},
		{"rejects a malformed key", call{path: "/v2/predict", body: irisBody(0), headers: map[string]string{"x-api-key": "hunter2"}}, 401},
		{"rejects a revoked key", call{path: "/v2/predict", body: irisBody(0), client: clientRevoked}, 401},
		{"rejects an expired key", call{path: "/v2/predict", body: irisBody(0), client: clientExpired}, 401},
		{"rejects a missing key on a GET", call{method: http.MethodGet, path: "/v2/models"}, 401},
		{"accepts a valid key", call{path: "/v2/predict", body: irisBody(0), client: clientPro}, 0},
		{"accepts a valid key as a bearer token", call{path: "/v2/predict", body: irisBody(0),
			headers: map[string]string{"authorization": "Bearer " + e.keys[clientPro].Secret}}, 0},
		// Both headers: each must carry the same well-formed key, whatever
		// the Authorization scheme.
		{"rejects another authorization scheme beside a valid key", call{path: "/v2/predict", body: irisBody(0), client: clientPro,
			headers: map[string]string{"authorization": "Basic eDp5"}}, 401},
		{"rejects a malformed bearer token beside a valid key", call{path: "/v2/predict", body: irisBody(0), client: clientPro,
			headers: map[string]string{"authorization": "Bearer nope"}}, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(t, tc.call)
			if tc.wantErr == 0 {
				require.Equal(t, http.StatusOK, a.status, "%s", a)
				return
			}
			requireProblem(t, a, tc.wantErr, problem.TypeUnauthorized)
			require.NotEmpty(t, a.header.Get("www-authenticate"), "%s", a)
		})
	}
}

func testValidation(t *testing.T, e *env) {
	tests := []struct {
		name       string
		call       call
		wantStatus int
		wantType   string
		check      func(t *testing.T, p problem.Problem)
	}{
		{
			name: "lists every invalid field by JSON pointer (400)",
			call: call{path: "/v2/predict", client: clientPro,
				body: `{"model":"iris","inputs":[{"sepal_length":"wide","sepal_width":"narrow","petal_length":1.4,"petal_width":0.2}]}`},
			wantStatus: 400, wantType: problem.TypeValidation,
			check: func(t *testing.T, p problem.Problem) {
				var ptrs []string
				for _, v := range p.Errors {
					ptrs = append(ptrs, v.Pointer)
				}
				require.ElementsMatch(t, []string{"/inputs/0/sepal_length", "/inputs/0/sepal_width"}, ptrs, "%+v", p)
			},
		},
		{
			name:       "lists a wrong type and the missing features in one answer (400)",
			call:       call{path: "/v2/predict", client: clientPro, body: `{"model":"iris","inputs":[{"sepal_length":"x"}]}`},
			wantStatus: 400, wantType: problem.TypeValidation,
			check: func(t *testing.T, p problem.Problem) {
				byPtr := map[string]string{}
				for _, v := range p.Errors {
					require.NotContains(t, byPtr, v.Pointer, "reported twice: %+v", p)
					byPtr[v.Pointer] = v.Detail
				}
				require.Len(t, byPtr, 4, "%+v", p)
				require.Contains(t, byPtr, "/inputs/0/sepal_length", "%+v", p)
				for _, f := range []string{"sepal_width", "petal_length", "petal_width"} {
					require.Equal(t, "missing", byPtr["/inputs/0/"+f], "%+v", p)
				}
			},
		},
		{
			name:       "rejects malformed JSON (400)",
			call:       call{path: "/v2/predict", client: clientPro, body: `{"model":"iris",`},
			wantStatus: 400, wantType: problem.TypeMalformedJSON,
		},
		{
			name:       "names an unknown model (404)",
			call:       call{path: "/v2/predict", client: clientPro, body: strings.Replace(irisBody(0), `"iris"`, `"tulip"`, 1)},
			wantStatus: 404, wantType: problem.TypeUnknownModel,
		},
		{
			name: "names an unknown version (404)",
			call: call{path: "/v2/predict", client: clientPro, body: irisBody(0),
				headers: map[string]string{"x-model-version": "9"}},
			wantStatus: 404, wantType: problem.TypeUnknownVersion,
		},
		{
			name:       "refuses a model the key may not use (403)",
			call:       call{path: "/v2/predict", client: clientIrisOnly, body: diabetesBody()},
			wantStatus: 403, wantType: problem.TypeForbidden,
		},
		{
			name: "refuses a body over 1 MiB (413)",
			call: call{path: "/v2/predict", client: clientPro,
				body: `{"model":"iris","inputs":[],"pad":"` + strings.Repeat("x", 2<<20) + `"}`},
			wantStatus: 413, wantType: problem.TypeBodyTooLarge,
		},
		{
			name: "refuses a body that is not JSON (415)",
			call: call{path: "/v2/predict", client: clientPro, body: irisBody(0),
				headers: map[string]string{"content-type": "text/plain"}},
			wantStatus: 415, wantType: problem.TypeUnsupportedMediaType,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := requireProblem(t, e.do(t, tc.call), tc.wantStatus, tc.wantType)
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
	t.Run("lets the key owner's allowed model through", func(t *testing.T) {
		a := e.do(t, call{path: "/v2/predict", client: clientIrisOnly, body: irisBody(0)})
		require.Equal(t, 200, a.status, "%s", a)
	})
}

func testRouting(t *testing.T, e *env, cat *catalog.Catalog) {
	type route struct {
		name, model, pin string
	}
	var tests []route
	// Predictions route to tabular models only; text-generation models
	// (kind llm) are reached through the chat and completions routes.
	for _, tg := range bootstrap.Targets(cat) {
		if cat.Models[tg.Model].IsLLM() {
			continue
		}
		tests = append(tests, route{"pinned " + tg.Serve() + " reaches that version", tg.Model, tg.Version})
	}
	for _, model := range cat.ModelNames() {
		if cat.Models[model].IsLLM() {
			continue
		}
		for alias := range cat.Models[model].Aliases {
			tests = append(tests, route{"alias " + model + ":" + alias + " lands where the catalog says", model, alias})
		}
		tests = append(tests, route{"no version means " + model + ":latest", model, ""})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := cat.Resolve(tc.model, tc.pin)
			require.NoError(t, err)
			body := irisBody(0.5)
			if tc.model == "diabetes" {
				body = diabetesBody()
			}
			a := e.do(t, call{path: "/v2/predict", client: clientPro, body: body,
				headers: map[string]string{"x-model-version": tc.pin, "cache-control": "no-cache"}})
			require.Equal(t, 200, a.status, "%s", a)
			require.Equal(t, want, a.header.Get("x-model-version"), "%s", a)
			var v struct {
				Model        string `json:"model"`
				ModelVersion string `json:"model_version"`
			}
			require.NoError(t, json.Unmarshal(a.body, &v))
			require.Equal(t, tc.model, v.Model)
			require.Equal(t, want, v.ModelVersion, "the version that served")
			e.requireServedBy(t, a.header.Get("x-request-id"), tc.model, want)
		})
	}
	t.Run("the Open Inference Protocol path reaches the pinned version", func(t *testing.T) {
		a := e.do(t, call{path: "/v2/models/iris/versions/1/infer", client: clientPro,
			body: `{"inputs":[{"name":"sepal_length","shape":[1],"datatype":"FP64","data":[5.1]},{"name":"sepal_width","shape":[1],"datatype":"FP64","data":[3.5]},{"name":"petal_length","shape":[1],"datatype":"FP64","data":[1.4]},{"name":"petal_width","shape":[1],"datatype":"FP64","data":[0.2]}]}`})
		require.Equal(t, 200, a.status, "%s", a)
		require.Equal(t, "1", a.header.Get("x-model-version"), "%s", a)
		e.requireServedBy(t, a.header.Get("x-request-id"), "iris", "1")
	})
}

// requireServedBy checks Envoy's access log: the request went to the
// cluster of model:version.
func (e *env) requireServedBy(t *testing.T, requestID, model, version string) {
	t.Helper()
	want := ""
	for _, tg := range e.s.Targets() {
		if tg.Model == model && tg.Version == version {
			want = tg.Cluster
		}
	}
	require.NotEmpty(t, want)
	eventually(t, 5*time.Second, func() error {
		rec, err := e.accessLogRecord(requestID)
		if err != nil {
			return err
		}
		if rec["upstream_cluster"] != want {
			return fmt.Errorf("request %s went to %v, want %s", requestID, rec["upstream_cluster"], want)
		}
		return nil
	})
}

func (e *env) accessLogRecord(requestID string) (map[string]any, error) {
	b, err := os.ReadFile(e.s.AccessLog)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, requestID) {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			return nil, err
		}
		return rec, nil
	}
	return nil, fmt.Errorf("request %s not in the access log yet", requestID)
}

func testCache(t *testing.T, e *env) {
	seed := float64(time.Now().UnixNano()%1000000) / 1e7
	t.Run("a repeat is a HIT with the same predictions and a new request id", func(t *testing.T) {
		first := e.do(t, call{path: "/v2/predict", client: clientPro, body: irisBody(seed)})
		require.Equal(t, 200, first.status, "%s", first)
		require.Equal(t, "MISS", first.header.Get("x-cache"), "%s", first)
		second := e.do(t, call{path: "/v2/predict", client: clientPro, body: irisBody(seed)})
		require.Equal(t, 200, second.status, "%s", second)
		require.Equal(t, "HIT", second.header.Get("x-cache"), "%s", second)
		require.Equal(t, predictionsOf(t, first.body), predictionsOf(t, second.body))
		require.NotEmpty(t, second.header.Get("x-request-id"))
		require.NotEqual(t, first.header.Get("x-request-id"), second.header.Get("x-request-id"))
		require.Equal(t, first.header.Get("x-model-version"), second.header.Get("x-model-version"))
	})
	t.Run("a body with case-variant member names is refused, never answered or cached", func(t *testing.T) {
		// Answered for one member and cached under the other, this body
		// would poison the cache: the gateway has one reading of a body.
		setosa := `[{"sepal_length":5.01,"sepal_width":3.41,"petal_length":1.43,"petal_width":0.21}]`
		virginica := `[{"sepal_length":7.71,"sepal_width":2.61,"petal_length":6.91,"petal_width":2.31}]`
		for _, body := range []string{
			`{"model":"iris","inputs":` + virginica + `,"INPUTS":` + setosa + `}`,
			`{"model":"iris","inputs":` + virginica + `,"inputs":` + setosa + `}`,
		} {
			p := requireProblem(t, e.do(t, call{path: "/v2/predict", client: clientOther, body: body}), 400, problem.TypeValidation)
			require.NotEmpty(t, p.Errors)
		}
		for _, rows := range []string{setosa, virginica} {
			a := e.do(t, call{path: "/v2/predict", client: clientOther, body: `{"model":"iris","inputs":` + rows + `}`})
			require.Equal(t, 200, a.status, "%s", a)
			require.Equal(t, "MISS", a.header.Get("x-cache"), "nothing was stored for the refused bodies: %s", a)
		}
	})
	t.Run("another client never gets the first client's entry", func(t *testing.T) {
		a := e.do(t, call{path: "/v2/predict", client: clientOther, body: irisBody(seed)})
		require.Equal(t, 200, a.status, "%s", a)
		require.Equal(t, "MISS", a.header.Get("x-cache"), "%s", a)
	})
	t.Run("no-store answers are not stored", func(t *testing.T) {
		body := irisBody(seed + 0.01)
		a := e.do(t, call{path: "/v2/predict", client: clientPro, body: body, headers: map[string]string{"cache-control": "no-store"}})
		require.Equal(t, 200, a.status, "%s", a)
		require.NotEqual(t, "HIT", a.header.Get("x-cache"), "%s", a)
		b := e.do(t, call{path: "/v2/predict", client: clientPro, body: body})
		require.Equal(t, "MISS", b.header.Get("x-cache"), "nothing was stored: %s", b)
	})
	t.Run("no-cache skips a stored entry", func(t *testing.T) {
		body := irisBody(seed + 0.02)
		require.Equal(t, "MISS", e.do(t, call{path: "/v2/predict", client: clientPro, body: body}).header.Get("x-cache"))
		require.Equal(t, "HIT", e.do(t, call{path: "/v2/predict", client: clientPro, body: body}).header.Get("x-cache"))
		a := e.do(t, call{path: "/v2/predict", client: clientPro, body: body, headers: map[string]string{"cache-control": "no-cache"}})
		require.Equal(t, 200, a.status, "%s", a)
		require.NotEqual(t, "HIT", a.header.Get("x-cache"), "%s", a)
	})
	t.Run("binary Open Inference Protocol answers are cached with the new id", func(t *testing.T) {
		// tritonclient.http's default: binary input tensor, binary outputs.
		row := make([]byte, 32)
		for i, v := range []float64{5.1 + seed, 3.5, 1.4, 0.2} {
			binary.LittleEndian.PutUint64(row[i*8:], math.Float64bits(v))
		}
		infer := func(id string) (answer, map[string]any, []byte) {
			head := `{"id":"` + id + `","inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","parameters":{"binary_data_size":32}}],"parameters":{"binary_data_output":true}}`
			a := e.do(t, call{path: "/v2/models/iris/infer", client: clientPro, body: head + string(row),
				headers: map[string]string{"content-type": "application/octet-stream", "inference-header-content-length": strconv.Itoa(len(head))}})
			require.Equal(t, 200, a.status, "%s", a)
			require.Equal(t, "application/octet-stream", a.header.Get("content-type"), "%s", a)
			n, err := strconv.Atoi(a.header.Get("inference-header-content-length"))
			require.NoError(t, err, "%s", a)
			require.LessOrEqual(t, n, len(a.body))
			var got map[string]any
			require.NoError(t, json.Unmarshal(a.body[:n], &got), "the head is the announced %d bytes: %s", n, a.body)
			return a, got, a.body[n:]
		}
		first, firstHead, firstTensors := infer("first")
		require.Equal(t, "MISS", first.header.Get("x-cache"), "%s", first)
		require.Equal(t, "first", firstHead["id"])
		require.NotEmpty(t, firstTensors, "the outputs came back as binary data")
		second, secondHead, secondTensors := infer("the-second-request")
		require.Equal(t, "HIT", second.header.Get("x-cache"), "%s", second)
		require.Equal(t, "the-second-request", secondHead["id"], "the current request's id")
		require.Equal(t, firstTensors, secondTensors, "the tensor bytes are replayed unchanged")
		require.Equal(t, firstHead["outputs"], secondHead["outputs"])
		require.Equal(t, strconv.Itoa(len(second.body)), second.header.Get("content-length"), "%s", second)
	})
}

func testDeprecation(t *testing.T, e *env) {
	t.Run("/v1/predict announces its deprecation and sunset", func(t *testing.T) {
		for _, body := range []string{v1Body(0.3), v1Body(0.3)} { // miss, then hit
			a := e.do(t, call{path: "/v1/predict", client: clientPro, body: body})
			require.Equal(t, 200, a.status, "%s", a)
			require.NotEmpty(t, a.header.Get("deprecation"), "%s", a)
			require.NotEmpty(t, a.header.Get("sunset"), "%s", a)
			require.Contains(t, a.header.Get("link"), `rel="deprecation"`, "%s", a)
		}
	})
	t.Run("/v2/predict does not", func(t *testing.T) {
		a := e.do(t, call{path: "/v2/predict", client: clientPro, body: irisBody(0.3)})
		require.Equal(t, 200, a.status, "%s", a)
		require.Empty(t, a.header.Get("deprecation"))
		require.Empty(t, a.header.Get("sunset"))
		require.Empty(t, a.header.Get("link"))
	})
}

func testGateway(t *testing.T, e *env) {
	t.Run("a flood without any key is refused before the key check", func(t *testing.T) {
		refused := 0
		for i := 0; i < 400 && refused == 0; i++ {
			a := e.do(t, call{method: http.MethodGet, path: "/v2/models"})
			switch a.status {
			case 401:
			case 429:
				refused++
				requireProblem(t, a, 429, problem.TypeQuotaExceeded)
				ra, err := strconv.Atoi(a.header.Get("retry-after"))
				require.NoError(t, err, "Retry-After %q", a.header.Get("retry-after"))
				require.Positive(t, ra)
			default:
				t.Fatalf("request %d: %s", i, a)
			}
		}
		require.Equal(t, 1, refused, "the anonymous bucket ran out")
		// Health checks are not limited by it: a flood cannot make the
		// gateway look down.
		for range 5 {
			require.Equal(t, 200, e.do(t, call{method: http.MethodGet, path: "/healthz"}).status)
			require.Equal(t, 200, e.do(t, call{method: http.MethodGet, path: "/v2/health/ready"}).status)
		}
		// A client with a key is not limited by it.
		require.Equal(t, 200, e.do(t, call{path: "/v2/predict", client: clientPro, body: irisBody(0.77)}).status)
		time.Sleep(2500 * time.Millisecond) // the bucket refills for the tests after this one
	})
	if !e.opts.ExtAuthz { // the listener is the same in both chains: once is enough
		t.Run("a connection that never speaks is closed", func(t *testing.T) {
			t.Parallel() // 5 s of waiting, beside the other gateway tests
			c, err := net.Dial("tcp", strings.TrimPrefix(e.s.URL(), "http://"))
			require.NoError(t, err)
			defer c.Close()
			start := time.Now()
			require.NoError(t, c.SetReadDeadline(start.Add(15*time.Second)))
			_, err = c.Read(make([]byte, 1))
			require.ErrorIs(t, err, io.EOF, "Envoy closes it (not our read deadline)")
			require.Less(t, time.Since(start), 10*time.Second)
		})
	}
	t.Run("gateway health needs no key", func(t *testing.T) {
		a := e.do(t, call{method: http.MethodGet, path: "/healthz"})
		require.Equal(t, 200, a.status, "%s", a)
	})
	t.Run("OIP server health needs no key", func(t *testing.T) {
		for _, p := range []string{"/v2/health/live", "/v2/health/ready"} {
			a := e.do(t, call{method: http.MethodGet, path: p})
			require.Equal(t, 200, a.status, "%s %s", p, a)
		}
	})
	t.Run("model servers' metrics are not exposed", func(t *testing.T) {
		requireProblem(t, e.do(t, call{method: http.MethodGet, path: "/metrics", client: clientPro}), 404, "")
	})
	t.Run("every answer carries a request id", func(t *testing.T) {
		a := e.do(t, call{path: "/v2/predict", body: irisBody(0)})
		require.NotEmpty(t, a.header.Get("x-request-id"))
	})
	t.Run("a request id sent by the client is replaced", func(t *testing.T) {
		a := e.do(t, call{path: "/v2/predict", client: clientPro, body: irisBody(0), headers: map[string]string{"x-request-id": "client-chosen"}})
		require.Equal(t, 200, a.status, "%s", a)
		require.NotEqual(t, "client-chosen", a.header.Get("x-request-id"))
	})
	t.Run("a client cannot claim another identity or tier", func(t *testing.T) {
		a := e.do(t, call{path: "/v2/predict", client: clientPro, body: irisBody(0.7),
			headers: map[string]string{"x-modelgate-client": "someone-else", "x-modelgate-tier": "internal"}})
		require.Equal(t, 200, a.status, "%s", a)
		eventually(t, 5*time.Second, func() error {
			rec, err := e.accessLogRecord(a.header.Get("x-request-id"))
			if err != nil {
				return err
			}
			if rec["client"] != clientPro || rec["tier"] != "pro" {
				return fmt.Errorf("logged client %v tier %v", rec["client"], rec["tier"])
			}
			return nil
		})
	})
	t.Run("CORS preflight is answered without a key", func(t *testing.T) {
		a := e.do(t, call{method: http.MethodOptions, path: "/v2/predict", headers: map[string]string{
			"origin": "https://app.example", "access-control-request-method": "POST",
			"access-control-request-headers": "x-api-key, content-type"}})
		require.Equal(t, 200, a.status, "%s", a)
		require.Equal(t, "https://app.example", a.header.Get("access-control-allow-origin"), "%s", a)
	})
}

func testQuotas(t *testing.T, e *env) {
	body := func(i int) string { return irisBody(0.9 + float64(i)/1000) } // misses
	t.Run("the request after the quota gets 429 with Retry-After and rate-limit headers", func(t *testing.T) {
		if m := time.Now().Minute(); m == 59 {
			time.Sleep(time.Until(time.Now().Truncate(time.Hour).Add(time.Hour + time.Second)))
		}
		for i := 0; i < quotaPerHour; i++ {
			a := e.do(t, call{path: "/v2/predict", client: clientQuota, body: body(i)})
			require.Equal(t, 200, a.status, "request %d: %s", i+1, a)
			require.NotEmpty(t, a.header.Get("x-ratelimit-remaining"), "%s", a)
		}
		a := e.do(t, call{path: "/v2/predict", client: clientQuota, body: body(99)})
		requireProblem(t, a, 429, problem.TypeQuotaExceeded)
		ra, err := strconv.Atoi(a.header.Get("retry-after"))
		require.NoError(t, err, "Retry-After %q", a.header.Get("retry-after"))
		require.Positive(t, ra)
		require.LessOrEqual(t, ra, 3600)
		require.Equal(t, strconv.Itoa(quotaPerHour), strings.SplitN(a.header.Get("x-ratelimit-limit"), ",", 2)[0], "%s", a)
		require.Equal(t, "0", a.header.Get("x-ratelimit-remaining"), "%s", a)
		require.NotEmpty(t, a.header.Get("x-ratelimit-reset"))
	})
	t.Run("cache hits count against the quota too", func(t *testing.T) {
		a := e.do(t, call{path: "/v2/predict", client: clientQuota, body: body(0)}) // stored above
		requireProblem(t, a, 429, problem.TypeQuotaExceeded)
	})
	t.Run("a client cannot lift its quota by claiming a tier", func(t *testing.T) {
		a := e.do(t, call{path: "/v2/predict", client: clientQuota, body: body(98),
			headers: map[string]string{"x-modelgate-tier": "internal", "x-modelgate-client": clientLoad}})
		requireProblem(t, a, 429, problem.TypeQuotaExceeded)
	})
	t.Run("another client of the same tier is unaffected", func(t *testing.T) {
		a := e.do(t, call{path: "/v2/predict", client: clientQuota2, body: body(0)})
		require.Equal(t, 200, a.status, "%s", a)
	})
	t.Run("a limit changed in the config applies without a restart", func(t *testing.T) {
		pid := e.s.Proc(stack.RateLimit).Pid()
		// The service counts every hit, rejected ones too: 4 served + 3
		// refused so far. Raising the limit by 6 allows 3 more.
		const raised = quotaPerHour + 6
		e.writeQuota(t, raised)
		eventually(t, 15*time.Second, func() error {
			resp, err := e.client.Get(e.s.RateLimitDebugURL() + "/rlconfig")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(b), "client_"+clientQuota+": unit=HOUR requests_per_unit="+strconv.Itoa(raised)) {
				return fmt.Errorf("not reloaded yet")
			}
			return nil
		})
		for i := 0; i < 3; i++ {
			a := e.do(t, call{path: "/v2/predict", client: clientQuota, body: body(10 + i)})
			require.Equal(t, 200, a.status, "request %d over the old limit: %s", i+1, a)
		}
		requireProblem(t, e.do(t, call{path: "/v2/predict", client: clientQuota, body: body(20)}), 429, problem.TypeQuotaExceeded)
		require.Equal(t, pid, e.s.Proc(stack.RateLimit).Pid(), "same ratelimit process")
	})
}

func testLoad(t *testing.T, e *env) {
	const n, conc = 5000, 32
	c := loadgen.NewClient(conc)
	defer c.CloseIdleConnections()
	key := e.keys[clientLoad].Secret
	res, err := loadgen.Run(t.Context(), c, loadgen.Config{Requests: n, Concurrency: conc}, func(i int) (*http.Request, error) {
		// A mix: a quarter v1, the rest v2 over 200 distinct bodies, so both
		// cache hits and misses happen.
		path, body := "/v2/predict", irisBody(float64(i%200)/100)
		if i%4 == 0 {
			path, body = "/v1/predict", v1Body(float64(i%200)/100)
		}
		r, err := http.NewRequest(http.MethodPost, e.s.URL()+path, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		r.Header.Set("content-type", "application/json")
		r.Header.Set("x-api-key", key)
		return r, nil
	})
	require.NoError(t, err)
	t.Logf("load: %s", res)
	require.Zero(t, res.Errors, "transport errors, first: %v", res.FirstError)
	require.Equal(t, n, res.Status[200], "every answer 200: %s %v", res, res.Bodies)
}

func testFaults(t *testing.T, e *env) {
	ctx := t.Context()
	ok := func(t *testing.T) answer {
		t.Helper()
		return e.do(t, call{path: "/v2/predict", client: clientFaults, body: irisBody(0.1), headers: map[string]string{"cache-control": "no-cache"}})
	}
	require.Equal(t, 200, ok(t).status)

	t.Run("ratelimit down: traffic is still served and the metric shows it", func(t *testing.T) {
		before := e.quotaFailOpen(t)
		require.NoError(t, e.s.StopProc(stack.RateLimit, 5*time.Second))
		for i := 0; i < 3; i++ {
			a := ok(t)
			require.Equal(t, 200, a.status, "%s", a)
		}
		require.Greater(t, e.quotaFailOpen(t), before)
		require.NoError(t, e.s.StartProc(ctx, stack.RateLimit))
	})
	t.Run("extproc down: requests are refused, never let through", func(t *testing.T) {
		require.NoError(t, e.s.KillProc(stack.Extproc))
		for _, c := range []call{
			{path: "/v2/predict", client: clientFaults, body: irisBody(0.1)},
			{path: "/v2/predict", body: irisBody(0.1)},
			{method: http.MethodGet, path: "/v2/models", client: clientFaults},
		} {
			a := e.do(t, c)
			requireProblem(t, a, 503, "")
		}
		require.NoError(t, e.s.StartProc(ctx, stack.Extproc))
		eventually(t, 10*time.Second, func() error {
			if a := ok(t); a.status != 200 {
				return fmt.Errorf("%s", a)
			}
			return nil
		})
	})
	var iris2 bootstrap.Target
	for _, tg := range e.s.Targets() {
		if tg.Serve() == "iris:2" {
			iris2 = tg
		}
	}
	pinned := func(t *testing.T, c string, extra map[string]string) answer {
		h := map[string]string{"x-model-version": "2", "cache-control": "no-cache"}
		for k, v := range extra {
			h[k] = v
		}
		return e.do(t, call{path: "/v2/predict", client: c, body: irisBody(0.2), headers: h})
	}
	t.Run("inference killed: 503 problem, then recovery when it returns", func(t *testing.T) {
		require.NoError(t, e.s.KillProc(stack.InferenceName(iris2)))
		requireProblem(t, pinned(t, clientFaults, nil), 503, problem.TypeUnavailable)
		require.NoError(t, e.s.StartProc(ctx, stack.InferenceName(iris2)))
		eventually(t, 15*time.Second, func() error {
			if a := pinned(t, clientFaults, nil); a.status != 200 {
				return fmt.Errorf("%s", a)
			}
			return nil
		})
	})
	t.Run("the model server never sees an API key", func(t *testing.T) {
		// Stand a recorder in for iris:2 on its port and look at what Envoy
		// forwards.
		require.NoError(t, e.s.StopProc(stack.InferenceName(iris2), 5*time.Second))
		var mu sync.Mutex
		var seen []http.Header
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(e.s.Ports().Inference(iris2)))
		require.NoError(t, err)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			h := r.Header.Clone()
			h.Set("x-test-path", r.URL.Path)
			seen = append(seen, h)
			mu.Unlock()
			w.Header().Set("content-type", "application/json")
			w.Header().Set("x-model-version", "2")
			io.WriteString(w, `{"model":"iris","model_version":"2","predictions":[{"label":"setosa"}]}`)
		})}
		go srv.Serve(l)
		defer func() {
			srv.Close()
			require.NoError(t, e.s.StartProc(ctx, stack.InferenceName(iris2)))
		}()
		secret := e.keys[clientFaults].Secret
		eventually(t, 10*time.Second, func() error {
			if a := pinned(t, clientFaults, nil); a.status != 200 {
				return fmt.Errorf("%s", a)
			}
			return nil
		})
		a := pinned(t, "", map[string]string{"authorization": "Bearer " + secret})
		require.Equal(t, 200, a.status, "%s", a)
		// Nor on a route that needs no key and skips the plugin.
		a = e.do(t, call{method: http.MethodGet, path: "/v2/health/ready",
			headers: map[string]string{"x-api-key": secret, "authorization": "Bearer " + secret}})
		require.Equal(t, 200, a.status, "%s", a)
		mu.Lock()
		defer mu.Unlock()
		require.NotEmpty(t, seen)
		for _, h := range seen {
			require.Empty(t, h.Get("x-api-key"), "forwarded %v", h)
			require.Empty(t, h.Get("authorization"), "forwarded %v", h)
			for k, vs := range h {
				for _, v := range vs {
					require.NotContains(t, v, secret, "header %s carries the key", k)
				}
			}
			if h.Get("x-test-path") != "/v2/health/ready" {
				require.Equal(t, clientFaults, h.Get("x-modelgate-client"), "%v", h)
			}
		}
	})
}
