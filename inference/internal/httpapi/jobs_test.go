package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/modelgate/modelgate/api/header"
	api "github.com/modelgate/modelgate/api/jobs"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/config"
	"github.com/modelgate/modelgate/inference/internal/jobs"
	"github.com/modelgate/modelgate/inference/internal/registry"
	"github.com/modelgate/modelgate/internal/testutil"
)

// newJobsServer serves the committed catalog's iris 2 with the jobs
// routes over a redis-server of the test's own; withWorker starts that
// version's worker.
func newJobsServer(t *testing.T, withWorker bool) *Server {
	t.Helper()
	jc := JobsConfig{
		MaxRows: 100, MaxBodyBytes: 1 << 20, Poll: 10 * time.Millisecond,
		HasSecret: func(client string) bool { return client != "nosecret" },
		CheckWebhook: func(u string) error {
			if !strings.HasPrefix(u, "https://") {
				return errors.New("the scheme must be https")
			}
			return nil
		},
	}
	var worker func(*atomic.Pointer[registry.Registry]) (string, jobs.Runner)
	if withWorker {
		worker = func(p *atomic.Pointer[registry.Registry]) (string, jobs.Runner) { return "iris:2", jobs.NewTabular(p) }
	}
	return jobsTestServer(t, []config.Selection{{Model: "iris", Version: "2"}}, jc, worker)
}

// jobsTestServer serves sel from the committed catalog with the jobs
// routes of jc over a redis-server of the test's own; worker, when set,
// names the version whose worker runs (model:version) and its runner.
func jobsTestServer(t testing.TB, sel []config.Selection, jc JobsConfig, worker func(*atomic.Pointer[registry.Registry]) (string, jobs.Runner)) *Server {
	t.Helper()
	reg, err := registry.Load(catalogPath, sel)
	require.NoError(t, err)
	var p atomic.Pointer[registry.Registry]
	p.Store(reg)
	var ready atomic.Bool
	ready.Store(true)
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: testutil.StartRedis(t)})
	t.Cleanup(func() { rdb.Close() })
	store := jobs.NewStore(jobs.Config{}, rdb)
	jc.Store = store
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(Config{MaxBatchRows: 2, MaxBodyBytes: 1 << 20, Jobs: jc}, &p, &ready, log, noop.NewMeterProvider().Meter("test"), nil)
	require.NoError(t, err)
	if worker != nil {
		target, runner := worker(&p)
		model, version, _ := strings.Cut(target, ":")
		ctx, cancel := context.WithCancel(context.Background())
		w := jobs.NewWorker(jobs.WorkerConfig{Model: model, Version: version, Consumer: "t", Block: 20 * time.Millisecond},
			store, runner, log)
		done := make(chan struct{})
		go func() { defer close(done); _ = w.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return s
}

const jobBody = `{"model":"iris","inputs":[` + irisRow + `,` + irisRow + `,` + irisRow + `],"metadata":{"batch":"b1"}}`

func decodeJob(t *testing.T, res result) api.Job {
	t.Helper()
	var j api.Job
	require.NoError(t, json.Unmarshal(res.body, &j), string(res.body))
	return j
}

func TestJobs_submitAndPoll(t *testing.T) {
	t.Parallel()
	s := newJobsServer(t, true)
	res := do(t, s, "POST", "/v2/jobs", header.MediaJSON, jobBody, header.Client, "alice")
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	j := decodeJob(t, res)
	require.Equal(t, "/v2/jobs/"+j.ID, res.header.Get("Location"))
	require.Equal(t, "2", j.Version)
	require.Equal(t, 3, j.Usage.Rows, "the job may carry more rows than /v2/predict")
	require.Equal(t, "b1", j.Metadata["batch"])

	require.Eventually(t, func() bool {
		res = do(t, s, "GET", "/v2/jobs/"+j.ID, "", "", header.Client, "alice")
		return decodeJob(t, res).Status == api.Succeeded
	}, 10*time.Second, 20*time.Millisecond)
	require.Empty(t, res.header.Get("Retry-After"))
	var out struct {
		Predictions []map[string]any `json:"predictions"`
	}
	require.NoError(t, json.Unmarshal(decodeJob(t, res).Result, &out))
	require.Len(t, out.Predictions, 3)

	t.Run("other clients get 404", func(t *testing.T) {
		for _, r := range []result{
			do(t, s, "GET", "/v2/jobs/"+j.ID, "", "", header.Client, "bob"),
			do(t, s, "POST", "/v2/jobs/"+j.ID+"/cancel", "", "", header.Client, "bob"),
			do(t, s, "GET", "/v2/jobs/"+j.ID+"/deliveries", "", "", header.Client, "bob"),
		} {
			requireProblem(t, r, http.StatusNotFound, problem.TypeNotFound)
		}
	})
	t.Run("lists the owner's jobs", func(t *testing.T) {
		res := do(t, s, "GET", "/v2/jobs?status=succeeded&limit=5", "", "", header.Client, "alice")
		require.Equal(t, http.StatusOK, res.status)
		var l api.List
		require.NoError(t, json.Unmarshal(res.body, &l))
		require.Equal(t, "list", l.Object)
		require.Len(t, l.Data, 1)
		res = do(t, s, "GET", "/v2/jobs", "", "", header.Client, "bob")
		require.JSONEq(t, `{"object":"list","data":[],"next_cursor":null}`, string(res.body))
		res = do(t, s, "GET", "/v2/jobs?status=", "", "", header.Client, "alice")
		requireProblem(t, res, http.StatusBadRequest, problem.TypeValidation)
	})
	t.Run("a finished job cannot be canceled", func(t *testing.T) {
		res := do(t, s, "POST", "/v2/jobs/"+j.ID+"/cancel", "", "", header.Client, "alice")
		requireProblem(t, res, http.StatusConflict, problem.TypeJobFinished)
	})
}

func TestJobs_preferWait(t *testing.T) {
	t.Parallel()
	s := newJobsServer(t, true)
	res := do(t, s, "POST", "/v2/jobs", header.MediaJSON, jobBody, header.Client, "alice", "Prefer", "wait=10")
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	require.Equal(t, "wait=10", res.header.Get("Preference-Applied"))
	require.Equal(t, api.Succeeded, decodeJob(t, res).Status)
}

func TestJobs_idempotency(t *testing.T) {
	t.Parallel()
	s := newJobsServer(t, false)
	first := do(t, s, "POST", "/v2/jobs", header.MediaJSON, jobBody, header.Client, "alice", "Idempotency-Key", "k1")
	require.Equal(t, http.StatusAccepted, first.status)
	again := do(t, s, "POST", "/v2/jobs", header.MediaJSON, jobBody, header.Client, "alice", "Idempotency-Key", "k1")
	require.Equal(t, http.StatusOK, again.status)
	require.Equal(t, decodeJob(t, first).ID, decodeJob(t, again).ID)
	other := do(t, s, "POST", "/v2/jobs", header.MediaJSON, strings.Replace(jobBody, "b1", "b2", 1),
		header.Client, "alice", "Idempotency-Key", "k1")
	requireProblem(t, other, http.StatusUnprocessableEntity, problem.TypeIdempotencyKeyReused)
}

func TestJobs_cancelQueued(t *testing.T) {
	t.Parallel()
	s := newJobsServer(t, false)
	j := decodeJob(t, do(t, s, "POST", "/v2/jobs", header.MediaJSON, jobBody, header.Client, "alice"))
	res := do(t, s, "GET", "/v2/jobs/"+j.ID, "", "", header.Client, "alice")
	require.Equal(t, "1", res.header.Get("Retry-After"), "a queued job tells pollers when to come back")
	res = do(t, s, "POST", "/v2/jobs/"+j.ID+"/cancel", "", "", header.Client, "alice")
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, api.Canceled, decodeJob(t, res).Status)
}

func TestJobs_refusals(t *testing.T) {
	t.Parallel()
	s := newJobsServer(t, false)
	tests := []struct {
		name, body   string
		client, idem string
		wantStatus   int
		wantType     string
		wantPointers []string
	}{
		{name: "refuses a job without client", body: jobBody, wantStatus: 401, wantType: problem.TypeUnauthorized},
		{name: "lists every violation", client: "alice",
			body:       `{"model":"iris","inputs":[{"sepal_length":"x"}],"webhook":"http://10.0.0.1/","webhook_events_filter":["done"],"extra":1}`,
			wantStatus: 400, wantType: problem.TypeValidation,
			wantPointers: []string{"/extra", "/webhook", "/webhook_events_filter/0", "/inputs/0/sepal_length"}},
		{name: "refuses too many rows", client: "alice",
			body:       `{"model":"iris","inputs":[` + strings.Repeat(irisRow+",", 100) + irisRow + `]}`,
			wantStatus: 400, wantType: problem.TypeTooManyRows},
		{name: "refuses an unknown model", client: "alice", body: `{"model":"nope","inputs":[{}]}`,
			wantStatus: 404, wantType: problem.TypeUnknownModel},
		{name: "refuses a webhook of a client without a secret", client: "nosecret",
			body:       `{"model":"iris","inputs":[` + irisRow + `],"webhook":"https://example.com/h"}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/webhook"}},
		{name: "refuses an overlong idempotency key", client: "alice", body: jobBody, idem: strings.Repeat("k", 256),
			wantStatus: 400, wantType: problem.TypeValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, s, "POST", "/v2/jobs", header.MediaJSON, tt.body, header.Client, tt.client, "Idempotency-Key", tt.idem)
			p := requireProblem(t, res, tt.wantStatus, tt.wantType)
			for _, ptr := range tt.wantPointers {
				found := false
				for _, v := range p.Errors {
					found = found || v.Pointer == ptr
				}
				require.True(t, found, "no violation at %s in %s", ptr, res.body)
			}
		})
	}
}
