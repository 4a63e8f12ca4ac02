package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/modelgate/modelgate/api/header"
	api "github.com/modelgate/modelgate/api/jobs"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/jobs"
)

// jobProblem maps the store's errors. A job of another client is not
// found, exactly as one that never existed.
func jobProblem(err error, id string) error {
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		return &problem.Problem{Type: problem.TypeNotFound, Status: http.StatusNotFound, Title: "Not found",
			Detail: "no job " + strconv.Quote(id)}
	case errors.Is(err, jobs.ErrFinal):
		return &problem.Problem{Type: problem.TypeJobFinished, Status: http.StatusConflict, Title: "Job finished",
			Detail: "job " + strconv.Quote(id) + " has finished"}
	}
	return err
}

// writeJob answers a job, with Retry-After while it is unfinished so
// pollers pace themselves.
func (s *Server) writeJob(w http.ResponseWriter, status int, j api.Job) error {
	if !j.Status.Final() {
		w.Header().Set(header.RetryAfter, "1")
	}
	return writeJSON(w, status, j)
}

// getJob serves GET /v2/jobs/{id}.
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	who, err := owner(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	j, err := s.cfg.Jobs.Store.Get(r.Context(), who, id)
	if err != nil {
		return jobProblem(err, id)
	}
	return s.writeJob(w, http.StatusOK, j)
}

// listJobs serves GET /v2/jobs?status=&limit=&cursor=.
func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) error {
	who, err := owner(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var vs []problem.Violation
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			vs = append(vs, problem.Violation{Pointer: "/limit", Detail: "want an integer from 1 to 100"})
		}
		limit = n
	}
	st := api.Status(q.Get("status"))
	if q.Has("status") && !st.Valid() {
		vs = append(vs, problem.Violation{Pointer: "/status", Detail: "unknown status"})
	}
	if len(vs) > 0 {
		p := validationProblem(vs)
		p.Detail = "invalid query parameters: " + p.Detail
		return p
	}
	l, err := s.cfg.Jobs.Store.List(r.Context(), who, st, limit, q.Get("cursor"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, l)
}

// cancelJob serves POST /v2/jobs/{id}/cancel.
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) error {
	who, err := owner(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	j, err := s.cfg.Jobs.Store.Cancel(r.Context(), who, id)
	if err != nil {
		return jobProblem(err, id)
	}
	return writeJSON(w, http.StatusOK, j)
}

// jobDeliveries serves GET /v2/jobs/{id}/deliveries.
func (s *Server) jobDeliveries(w http.ResponseWriter, r *http.Request) error {
	who, err := owner(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	ds, err := s.cfg.Jobs.Store.Deliveries(r.Context(), who, id)
	if err != nil {
		return jobProblem(err, id)
	}
	return writeJSON(w, http.StatusOK, api.DeliveryList{Object: api.ObjectList, Data: ds})
}

// redeliver serves POST /v2/jobs/{id}/deliveries/{delivery}/redeliver:
// the message of that delivery is sent again, with its webhook-id.
func (s *Server) redeliver(w http.ResponseWriter, r *http.Request) error {
	who, err := owner(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	m, err := s.cfg.Jobs.Store.Redeliver(r.Context(), who, id, r.PathValue("delivery"))
	if err != nil {
		return jobProblem(err, id)
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{"object": "message", "id": m.ID, "status": "queued"})
}
