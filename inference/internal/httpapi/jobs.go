package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate/api/header"
	api "github.com/modelgate/modelgate/api/jobs"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/jobs"
	"github.com/modelgate/modelgate/inference/internal/scoring"
)

// JobStore is what the jobs routes need of the job store.
type JobStore interface {
	Create(ctx context.Context, n jobs.NewJob) (api.Job, bool, error)
	Get(ctx context.Context, owner, id string) (api.Job, error)
	List(ctx context.Context, owner string, status api.Status, limit int, cursor string) (api.List, error)
	Cancel(ctx context.Context, owner, id string) (api.Job, error)
	Deliveries(ctx context.Context, owner, id string) ([]api.Delivery, error)
	Redeliver(ctx context.Context, owner, id, deliveryID string) (jobs.Message, error)
}

// JobsConfig enables the jobs routes.
type JobsConfig struct {
	Store JobStore
	// MaxRows is the most rows one job may carry; MaxBodyBytes bounds its
	// body.
	MaxRows      int
	MaxBodyBytes int64
	// CheckWebhook refuses a webhook URL that would never be delivered to.
	CheckWebhook func(string) error
	// HasSecret reports whether a client has a webhook signing secret; a
	// job with a webhook is refused without one (nil: not checked).
	HasSecret func(client string) bool
	// Poll is how often Prefer: wait re-reads the job. Default 100 ms.
	Poll time.Duration
}

// maxWait caps Prefer: wait.
const maxWait = 60 * time.Second

// maxIdempotencyKey bounds the Idempotency-Key header (it is part of a
// Redis key).
const maxIdempotencyKey = 255

func (s *Server) jobRoutes() []route {
	if s.cfg.Jobs.Store == nil {
		return nil
	}
	return []route{
		{pattern: "POST /v2/jobs", handle: s.createJob},
		{pattern: "GET /v2/jobs", handle: s.listJobs},
		{pattern: "GET /v2/jobs/{id}", handle: s.getJob},
		{pattern: "POST /v2/jobs/{id}/cancel", handle: s.cancelJob},
		{pattern: "GET /v2/jobs/{id}/deliveries", handle: s.jobDeliveries},
		{pattern: "POST /v2/jobs/{id}/deliveries/{delivery}/redeliver", handle: s.redeliver},
	}
}

// owner is the client the gateway authenticated; jobs are scoped by it.
func owner(r *http.Request) (string, error) {
	if c := r.Header.Get(header.Client); c != "" {
		return c, nil
	}
	return "", &problem.Problem{Type: problem.TypeUnauthorized, Status: http.StatusUnauthorized, Title: "Unauthorized",
		Detail: "jobs belong to a client; the gateway names it in " + header.Client}
}

// createJob serves POST /v2/jobs: the body is checked as /v2/predict
// checks it (with the jobs' row limit), or, when it has messages, as
// /v1/chat/completions does; then the job is stored and queued for this
// version's workers.
func (s *Server) createJob(w http.ResponseWriter, r *http.Request) error {
	who, err := owner(r)
	if err != nil {
		return err
	}
	n, err := s.decodeJob(w, r, who)
	if err != nil {
		return err
	}
	n.Owner = who
	j, created, err := s.cfg.Jobs.Store.Create(r.Context(), n)
	if errors.Is(err, jobs.ErrIdempotencyMismatch) {
		return &problem.Problem{Type: problem.TypeIdempotencyKeyReused, Status: http.StatusUnprocessableEntity,
			Title: "Idempotency key reused", Detail: "this Idempotency-Key was sent before with a different body"}
	}
	var tm *jobs.TooManyActiveError
	if errors.As(err, &tm) {
		return &problem.Problem{Type: problem.TypeQuotaExceeded, Status: http.StatusTooManyRequests,
			Title: "Too many active jobs", Detail: tm.Error(), RetryAfter: 5}
	}
	if err != nil {
		return err
	}
	infoFrom(r.Context()).rows = j.Usage.Rows
	if wait, ok := preferWait(r.Header.Get(api.HeaderPrefer)); ok && !j.Status.Final() {
		w.Header().Set(api.HeaderPreferenceApplied, "wait="+strconv.Itoa(int(wait/time.Second)))
		j = s.waitJob(r.Context(), who, j, wait)
	}
	w.Header().Set(api.HeaderLocation, "/v2/jobs/"+j.ID)
	status := http.StatusAccepted
	if j.Status.Final() || !created {
		status = http.StatusOK
	}
	return s.writeJob(w, status, j)
}

// decodeJob reads and checks a job body; every problem is listed at once.
func (s *Server) decodeJob(w http.ResponseWriter, r *http.Request, who string) (jobs.NewJob, error) {
	var n jobs.NewJob
	body, err := readJSON(w, r, s.cfg.Jobs.MaxBodyBytes)
	if err != nil {
		return n, err
	}
	obj, err := parseObject(body)
	if err != nil {
		return n, err
	}
	if _, chat := obj.members["messages"]; chat {
		return s.decodeChatJob(w, r, who, body, obj)
	}
	obj.refuseUnknown("model", "version", "inputs", "options", "webhook", "webhook_events_filter", "metadata")
	var req api.CreateRequest
	obj.decode(member{name: "model", dst: &req.Model, want: "string"}, member{name: "version", dst: &req.Version, want: "string"})
	if raw, ok := obj.members["options"]; ok && string(raw) != "null" {
		obj.violations = append(obj.violations, decodeV2Options(raw, &req.Options)...)
	}
	if req.Model == "" {
		obj.add("/model", "missing")
	}
	s.jobMembers(obj, r, who, &req)
	rows, err := obj.rows(s.cfg.Jobs.MaxRows)
	if err != nil {
		return n, err
	}
	if req.Model == "" {
		return n, validationProblem(obj.violations)
	}
	v, err := s.reg.Load().Resolve(req.Model, versionChoice(r, req.Version))
	if err != nil {
		return n, err
	}
	resolved(w, infoFrom(r.Context()), v)
	if err := scoring.Tabular(v); err != nil {
		return n, err
	}
	if vs := append(obj.violations, scoring.CheckRows(v, rows)...); len(vs) > 0 {
		return n, validationProblem(vs)
	}
	input, err := json.Marshal(struct {
		Inputs  json.RawMessage `json:"inputs"`
		Options json.RawMessage `json:"options,omitempty"`
	}{obj.members["inputs"], obj.members["options"]})
	if err != nil {
		return n, fmt.Errorf("encode job input: %w", err)
	}
	return newJob(r, body, v.Name(), v.ID(), input, len(rows), req), nil
}

// newJob is the job a checked body creates.
func newJob(r *http.Request, body []byte, model, version string, input json.RawMessage, rows int, req api.CreateRequest) jobs.NewJob {
	sum := sha256.Sum256(body)
	return jobs.NewJob{Model: model, Version: version, Input: input, Rows: rows,
		Webhook: jobs.Webhook{URL: req.Webhook, Events: req.WebhookEventsFilter}, Metadata: req.Metadata,
		IdempotencyKey: r.Header.Get(api.HeaderIdempotencyKey), BodyHash: hex.EncodeToString(sum[:])}
}

// jobMembers decodes and checks the members every job body has (webhook,
// events filter, metadata) and the Idempotency-Key header.
func (s *Server) jobMembers(obj *object, r *http.Request, who string, req *api.CreateRequest) {
	obj.decode(member{name: "webhook", dst: &req.Webhook, want: "string"},
		member{name: "webhook_events_filter", dst: &req.WebhookEventsFilter, want: "array of strings"},
		member{name: "metadata", dst: &req.Metadata, want: "object of strings"})
	s.checkWebhook(obj, *req)
	if req.Webhook != "" && s.cfg.Jobs.HasSecret != nil && !s.cfg.Jobs.HasSecret(who) {
		obj.add("/webhook", "this client has no webhook signing secret yet; the operator creates one with `inference webhook-secret create`")
	}
	if k := r.Header.Get(api.HeaderIdempotencyKey); len(k) > maxIdempotencyKey {
		obj.add("", fmt.Sprintf("the %s header is longer than %d bytes", api.HeaderIdempotencyKey, maxIdempotencyKey))
	}
}

// checkWebhook adds the violations of the webhook members.
func (s *Server) checkWebhook(obj *object, req api.CreateRequest) {
	if req.Webhook != "" && s.cfg.Jobs.CheckWebhook != nil {
		if err := s.cfg.Jobs.CheckWebhook(req.Webhook); err != nil {
			obj.add("/webhook", err.Error())
		}
	}
	for i, e := range req.WebhookEventsFilter {
		switch strings.TrimPrefix(e, "job.") {
		case "succeeded", "failed", "canceled", "completed":
		default:
			obj.add("/webhook_events_filter/"+strconv.Itoa(i), "unknown event; want succeeded, failed, canceled or completed")
		}
	}
	if len(req.Metadata) > 16 {
		obj.add("/metadata", "at most 16 members")
	}
}

// preferWait reads "wait=N" from a Prefer header (RFC 7240), capped.
func preferWait(v string) (time.Duration, bool) {
	for pref := range strings.SplitSeq(v, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(pref), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "wait") {
			continue
		}
		n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(val), `"`))
		if err != nil || n < 0 {
			return 0, false
		}
		return min(time.Duration(n)*time.Second, maxWait), true
	}
	return 0, false
}

// waitJob re-reads the job until it finishes, the wait ends or the client
// goes away; it returns the job as last read.
func (s *Server) waitJob(ctx context.Context, who string, j api.Job, wait time.Duration) api.Job {
	poll := s.cfg.Jobs.Poll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	deadline := time.After(wait)
	for !j.Status.Final() {
		select {
		case <-ctx.Done():
			return j
		case <-deadline:
			return j
		case <-t.C:
		}
		if got, err := s.cfg.Jobs.Store.Get(ctx, who, j.ID); err == nil {
			j = got
		}
	}
	return j
}
