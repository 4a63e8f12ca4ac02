package modelgate

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/api/jobs"
)

// The jobs API's bodies are the service's own wire types (api/jobs).
type (
	// JobRequest is the body of POST /v2/jobs: a prediction plus where
	// to call back.
	JobRequest = jobs.CreateRequest
	// Job is the state of one asynchronous job; Status.Final reports a
	// state that never changes again.
	Job = jobs.Job
	// JobList is one page of jobs.
	JobList = jobs.List
	// Delivery is one webhook delivery attempt.
	Delivery = jobs.Delivery
)

// WithWait asks the server to hold a submission up to d for the job to finish (Prefer: wait).
func WithWait(d time.Duration) RequestOption {
	return WithHeader("prefer", "wait="+strconv.Itoa(int(d/time.Second)))
}

// SubmitJob queues a job (POST /v2/jobs).
func (c *Client) SubmitJob(ctx context.Context, req JobRequest, opts ...RequestOption) (*Job, error) {
	var out Job
	return &out, c.doJSON(ctx, c.newCall(http.MethodPost, "/v2/jobs", "/v2/jobs", req, opts), &out)
}

// GetJob returns a job (GET /v2/jobs/{id}).
func (c *Client) GetJob(ctx context.Context, id string, opts ...RequestOption) (*Job, error) {
	var out Job
	return &out, c.doJSON(ctx, c.newCall(http.MethodGet, "/v2/jobs/"+seg(id), "/v2/jobs/{id}", nil, opts), &out)
}

// ListJobsParams filter and page GET /v2/jobs.
type ListJobsParams struct {
	Status string
	Limit  int
	Cursor string
}

// ListJobs returns one page of this client's jobs.
func (c *Client) ListJobs(ctx context.Context, p ListJobsParams, opts ...RequestOption) (*JobList, error) {
	k := c.newCall(http.MethodGet, "/v2/jobs", "/v2/jobs", nil, opts)
	k.query = url.Values{}
	if p.Status != "" {
		k.query.Set("status", p.Status)
	}
	if p.Limit > 0 {
		k.query.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		k.query.Set("cursor", p.Cursor)
	}
	var out JobList
	return &out, c.doJSON(ctx, k, &out)
}

// Jobs yields every job across pages, fetching the next page only when needed.
func (c *Client) Jobs(ctx context.Context, p ListJobsParams, opts ...RequestOption) iter.Seq2[Job, error] {
	return func(yield func(Job, error) bool) {
		for {
			page, err := c.ListJobs(ctx, p, opts...)
			if err != nil {
				yield(Job{}, err)
				return
			}
			for _, j := range page.Data {
				if !yield(j, nil) {
					return
				}
			}
			if page.NextCursor == nil || *page.NextCursor == "" {
				return
			}
			p.Cursor = *page.NextCursor
		}
	}
}

// CancelJob cancels a queued or running job (POST /v2/jobs/{id}/cancel).
func (c *Client) CancelJob(ctx context.Context, id string, opts ...RequestOption) (*Job, error) {
	var out Job
	return &out, c.doJSON(ctx, c.newCall(http.MethodPost, "/v2/jobs/"+seg(id)+"/cancel", "/v2/jobs/{id}/cancel", nil, opts), &out)
}

// JobDeliveries lists a job's webhook delivery attempts.
func (c *Client) JobDeliveries(ctx context.Context, id string, opts ...RequestOption) ([]Delivery, error) {
	var out struct {
		Data []Delivery `json:"data"`
	}
	err := c.doJSON(ctx, c.newCall(http.MethodGet, "/v2/jobs/"+seg(id)+"/deliveries", "/v2/jobs/{id}/deliveries", nil, opts), &out)
	return out.Data, err
}

// Redelivery is the webhook message queued again by [Client.Redeliver].
type Redelivery struct {
	ID     string `json:"id"`
	Object string `json:"object"`
	Status string `json:"status"`
}

// Redeliver sends one webhook message again.
func (c *Client) Redeliver(ctx context.Context, id, deliveryID string, opts ...RequestOption) (*Redelivery, error) {
	var out Redelivery
	return &out, c.doJSON(ctx, c.newCall(http.MethodPost, "/v2/jobs/"+seg(id)+"/deliveries/"+seg(deliveryID)+"/redeliver",
		"/v2/jobs/{id}/deliveries/{delivery_id}/redeliver", nil, opts), &out)
}

// WaitJob polls the job until it is finished, sleeping as Retry-After says
// (else poll). It ends with ctx; give ctx a deadline to bound the wait.
func (c *Client) WaitJob(ctx context.Context, id string, poll time.Duration, opts ...RequestOption) (*Job, error) {
	if poll <= 0 {
		poll = time.Second
	}
	for {
		var resp *http.Response
		j, err := c.GetJob(ctx, id, append(opts, WithResponse(&resp))...)
		if err != nil {
			return nil, err
		}
		if j.Status.Final() {
			return j, nil
		}
		wait := poll
		if d, ok := retryAfter(resp.Header); ok {
			wait = d
		}
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return j, err
		}
	}
}
