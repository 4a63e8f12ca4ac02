// Package jobs holds the JSON bodies of the asynchronous jobs API
// (/v2/jobs) and of the webhook events it delivers, with the Standard
// Webhooks header names.
package jobs

import (
	"encoding/json"
	"time"

	"github.com/modelgate/modelgate/api/predict"
)

// Status is a job's state. Queued and Running are the only states a job
// leaves; the others are final.
type Status string

// Job states.
const (
	Queued    Status = "queued"
	Running   Status = "running"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	Canceled  Status = "canceled"
	Expired   Status = "expired"
)

// Final reports whether s is a state a job never leaves.
func (s Status) Final() bool {
	switch s {
	case Succeeded, Failed, Canceled, Expired:
		return true
	}
	return false
}

// Valid reports whether s names a state.
func (s Status) Valid() bool { return s == Queued || s == Running || s.Final() }

// Object names of the bodies.
const (
	ObjectJob      = "job"
	ObjectList     = "list"
	ObjectDelivery = "delivery"
)

// Event types delivered by webhook.
const (
	EventSucceeded = "job.succeeded"
	EventFailed    = "job.failed"
	EventCanceled  = "job.canceled"
)

// EventFor returns the event type a final status is announced with, or ""
// when it is announced by none (expired).
func EventFor(s Status) string {
	switch s {
	case Succeeded:
		return EventSucceeded
	case Failed:
		return EventFailed
	case Canceled:
		return EventCanceled
	}
	return ""
}

// Standard Webhooks v1 header names.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
	// HeaderIdempotencyKey names a job creation that may be retried.
	HeaderIdempotencyKey = "idempotency-key"
	// HeaderPrefer carries "wait=N" (RFC 7240).
	HeaderPrefer = "prefer"
	// HeaderPreferenceApplied says the wait preference was honoured.
	HeaderPreferenceApplied = "preference-applied"
	// HeaderLocation points at a created job.
	HeaderLocation = "location"
)

// CreateRequest is the POST /v2/jobs body: a /v2/predict body plus the
// webhook and metadata members. A chat completion job has messages
// instead of inputs; its members are read as /v1/chat/completions reads
// them.
type CreateRequest struct {
	Model               string            `json:"model"`
	Version             string            `json:"version,omitempty"`
	Inputs              []predict.Row     `json:"inputs"`
	Options             predict.V2Options `json:"options,omitzero"`
	Webhook             string            `json:"webhook,omitempty"`
	WebhookEventsFilter []string          `json:"webhook_events_filter,omitempty"`
	Metadata            map[string]string `json:"metadata,omitempty"`
}

// Usage is what a job consumed: rows for a prediction job, tokens for a
// chat completion job (absent until it has run).
type Usage struct {
	Rows             int  `json:"rows"`
	PromptTokens     *int `json:"prompt_tokens,omitempty"`
	CompletionTokens *int `json:"completion_tokens,omitempty"`
	TotalTokens      *int `json:"total_tokens,omitempty"`
}

// Job is the job object.
type Job struct {
	ID          string     `json:"id"`
	Object      string     `json:"object"`
	Status      Status     `json:"status"`
	Model       string     `json:"model"`
	Version     string     `json:"version"`
	CreatedAt   time.Time  `json:"created_at"`
	StartedAt   *time.Time `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at"`
	// ExpiresAt is, for an unfinished job, the time it expires unless a
	// worker starts it; for a finished one, when it is deleted.
	ExpiresAt time.Time `json:"expires_at"`
	// Result is the answer of a succeeded job: the /v2/predict answer, or
	// for a chat job the chat.completion object.
	Result json.RawMessage `json:"result,omitempty"`
	// Problem is the problem+json object of a failed job.
	Problem  json.RawMessage   `json:"problem,omitempty"`
	Usage    Usage             `json:"usage"`
	Metadata map[string]string `json:"metadata"`
}

// List is a page of jobs.
type List struct {
	Object string `json:"object"`
	Data   []Job  `json:"data"`
	// NextCursor is the cursor of the next page; null on the last.
	NextCursor *string `json:"next_cursor"`
}

// Event is a webhook body.
type Event struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      Job       `json:"data"`
}

// Delivery is one attempt to deliver a webhook message. It never holds
// the receiver's answer body.
type Delivery struct {
	ID        string    `json:"id"`
	Object    string    `json:"object"`
	MessageID string    `json:"message_id"`
	Event     string    `json:"event"`
	URL       string    `json:"url"`
	Attempt   int       `json:"attempt"`
	At        time.Time `json:"at"`
	// Status is the receiver's HTTP status; 0 when none was received.
	Status    int     `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
	// Outcome is succeeded, retrying, failed or disabled.
	Outcome string `json:"outcome"`
	// Error classifies a failure: timeout, refused, ssrf, tls, redirect,
	// status, gone, network.
	Error string `json:"error,omitempty"`
	// NextAttemptAt is when the next attempt is due, when one is.
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
}

// DeliveryList is the deliveries of one job.
type DeliveryList struct {
	Object string     `json:"object"`
	Data   []Delivery `json:"data"`
}
