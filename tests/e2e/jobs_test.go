//go:build e2e

package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/envoy/bootstrap"
)

// webhookReceiver keeps every delivery it is sent and answers 204.
type webhookReceiver struct {
	mu         sync.Mutex
	deliveries []delivery
}

type delivery struct {
	header http.Header
	body   []byte
}

func (r *webhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.deliveries = append(r.deliveries, delivery{header: req.Header.Clone(), body: b})
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *webhookReceiver) got() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.deliveries...)
}

// verifyStandardWebhook checks a delivery as a receiver does: one v1
// signature of id.timestamp.body under the secret, a fresh timestamp.
func verifyStandardWebhook(t *testing.T, secret string, d delivery) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	require.NoError(t, err)
	id, ts := d.header.Get("webhook-id"), d.header.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), time.Unix(sec, 0), 5*time.Minute)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(d.body)
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	require.Contains(t, strings.Fields(d.header.Get("webhook-signature")), want, "no valid v1 signature")
}

type jobObject struct {
	ID, Object, Status, Model, Version string
	Result                             json.RawMessage
	Usage                              struct{ Rows int }
	Metadata                           map[string]string
	CompletedAt                        *time.Time `json:"completed_at"`
}

func decodeJobObject(t *testing.T, a answer) jobObject {
	t.Helper()
	var j jobObject
	require.NoError(t, json.Unmarshal(a.body, &j), "%s", a)
	return j
}

// TestJobs submits jobs through real Envoy, extproc and inference with
// its own jobs Redis, once per Envoy filter chain: the job is validated and
// routed by the gateway, run by the version's worker, read back by its
// owner only, and announced by a signed webhook.
func TestJobs(t *testing.T) {
	t.Run("ext_proc chain", func(t *testing.T) { testJobs(t, bootstrap.Options{}) })
	t.Run("ext_authz chain", func(t *testing.T) { testJobs(t, bootstrap.Options{ExtAuthz: true}) })
}

func testJobs(t *testing.T, opts bootstrap.Options) {
	e := startEnv(t, opts)
	rcv := &webhookReceiver{}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	out, err := exec.CommandContext(t.Context(), e.bins.Inference, "webhook-secret", "create",
		"--client", clientPro, "--file", e.s.WebhookSecrets()).Output()
	require.NoError(t, err)
	secret := strings.TrimSpace(string(out))
	require.True(t, strings.HasPrefix(secret, "whsec_"), secret)
	// Webhooks are signed with a secret of the submitting client: none, no
	// webhook (see "the gateway validates the body").
	_, err = exec.CommandContext(t.Context(), e.bins.Inference, "webhook-secret", "create",
		"--client", clientOther, "--file", e.s.WebhookSecrets()).Output()
	require.NoError(t, err)

	rows := `[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2},{"sepal_length":6.7,"sepal_width":3.0,"petal_length":5.2,"petal_width":2.3}]`
	body := `{"model":"iris","inputs":` + rows + `,"webhook":"` + srv.URL + `/hook","metadata":{"batch":"e2e"}}`
	a := e.do(t, call{path: "/v2/jobs", client: clientPro, body: body, headers: map[string]string{"idempotency-key": "e2e-1"}})
	require.Equal(t, http.StatusAccepted, a.status, "%s", a)
	j := decodeJobObject(t, a)
	require.Equal(t, "/v2/jobs/"+j.ID, a.header.Get("location"))
	require.Equal(t, "2", j.Version, "latest iris, resolved by the gateway")
	require.Equal(t, "e2e", j.Metadata["batch"])

	var done jobObject
	eventually(t, 20*time.Second, func() error {
		a := e.do(t, call{method: http.MethodGet, path: "/v2/jobs/" + j.ID, client: clientPro})
		if a.status != http.StatusOK {
			return fmt.Errorf("status %d: %s", a.status, a.body)
		}
		if done = decodeJobObject(t, a); done.Status != "succeeded" {
			return fmt.Errorf("job is %s", done.Status)
		}
		return nil
	})
	var result struct{ Predictions []map[string]any }
	require.NoError(t, json.Unmarshal(done.Result, &result))
	require.Len(t, result.Predictions, 2)

	t.Run("the webhook arrives signed", func(t *testing.T) {
		eventually(t, 10*time.Second, func() error {
			if len(rcv.got()) == 0 {
				return fmt.Errorf("no delivery yet")
			}
			return nil
		})
		d := rcv.got()[0]
		verifyStandardWebhook(t, secret, d)
		var ev struct {
			Type string
			Data jobObject
		}
		require.NoError(t, json.Unmarshal(d.body, &ev))
		require.Equal(t, "job.succeeded", ev.Type)
		require.Equal(t, j.ID, ev.Data.ID)
		a := e.do(t, call{method: http.MethodGet, path: "/v2/jobs/" + j.ID + "/deliveries", client: clientPro})
		require.Equal(t, http.StatusOK, a.status, "%s", a)
		require.Contains(t, string(a.body), `"outcome":"succeeded"`)
	})
	t.Run("other clients get 404, whatever headers they send", func(t *testing.T) {
		for _, c := range []call{
			{method: http.MethodGet, path: "/v2/jobs/" + j.ID, client: clientOther},
			{method: http.MethodGet, path: "/v2/jobs/" + j.ID, client: clientOther, headers: map[string]string{"x-modelgate-client": clientPro}},
			{method: http.MethodPost, path: "/v2/jobs/" + j.ID + "/cancel", client: clientOther},
		} {
			requireProblem(t, e.do(t, c), http.StatusNotFound, problem.TypeNotFound)
		}
		a := e.do(t, call{method: http.MethodGet, path: "/v2/jobs/" + j.ID})
		require.Equal(t, http.StatusUnauthorized, a.status, "%s", a)
	})
	t.Run("the same idempotency key gives the same job", func(t *testing.T) {
		a := e.do(t, call{path: "/v2/jobs", client: clientPro, body: body, headers: map[string]string{"idempotency-key": "e2e-1"}})
		require.Equal(t, http.StatusOK, a.status, "%s", a)
		require.Equal(t, j.ID, decodeJobObject(t, a).ID)
		a = e.do(t, call{path: "/v2/jobs", client: clientPro, body: strings.Replace(body, "e2e", "other", 1),
			headers: map[string]string{"idempotency-key": "e2e-1"}})
		requireProblem(t, a, http.StatusUnprocessableEntity, problem.TypeIdempotencyKeyReused)
	})
	t.Run("Prefer: wait answers with the finished job", func(t *testing.T) {
		a := e.do(t, call{path: "/v2/jobs", client: clientPro, body: `{"model":"iris","inputs":` + rows + `}`,
			headers: map[string]string{"prefer": "wait=5"}})
		require.Equal(t, http.StatusOK, a.status, "%s", a)
		require.Equal(t, "succeeded", decodeJobObject(t, a).Status)
	})
	t.Run("the gateway validates the body", func(t *testing.T) {
		a := e.do(t, call{path: "/v2/jobs", client: clientPro, body: `{"model":"iris","inputs":` + rows + `,"callback":"x"}`})
		requireProblem(t, a, http.StatusBadRequest, problem.TypeValidation)
		a = e.do(t, call{path: "/v2/jobs", client: clientPro, body: `{"model":"nope","inputs":` + rows + `}`})
		requireProblem(t, a, http.StatusNotFound, "")
		a = e.do(t, call{path: "/v2/jobs", client: clientQuota2, body: `{"model":"iris","inputs":` + rows + `,"webhook":"https://example.com/h"}`})
		requireProblem(t, a, http.StatusBadRequest, problem.TypeValidation)
	})
	t.Run("a job far over the prediction limits goes through", func(t *testing.T) {
		start := time.Now()
		// The jobs' default row limit, far past what the prediction
		// routes' decoded-document bound would admit.
		big := e.submitJob(t, clientPro, `{"model":"iris","inputs":`+irisRows(100000)+`}`)
		t.Logf("100,000 rows (%d bytes) accepted in %s", len(irisRows(100000)), time.Since(start))
		e.waitJob(t, clientPro, big.ID, "succeeded", 60*time.Second)
	})
	t.Run("chat completion jobs", func(t *testing.T) { testChatJobs(t, e, rcv, srv.URL+"/hook", secret) })
	t.Run("faults", func(t *testing.T) { testJobFaults(t, e) })
	t.Run("measures", func(t *testing.T) {
		rcv := &arrivals{at: map[string]time.Time{}}
		srv := httptest.NewServer(rcv)
		t.Cleanup(srv.Close)
		testJobMeasures(t, e, srv.URL, rcv)
	})
	t.Run("lists and refuses to cancel a finished job", func(t *testing.T) {
		a := e.do(t, call{method: http.MethodGet, path: "/v2/jobs?status=succeeded&limit=10", client: clientPro})
		require.Equal(t, http.StatusOK, a.status, "%s", a)
		require.Contains(t, string(a.body), j.ID)
		a = e.do(t, call{method: http.MethodPost, path: "/v2/jobs/" + j.ID + "/cancel", client: clientPro})
		requireProblem(t, a, http.StatusConflict, problem.TypeJobFinished)
	})
}
