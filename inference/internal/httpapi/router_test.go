package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
)

func TestRouter_Fallbacks(t *testing.T) {
	t.Parallel()
	runBadInput(t, newTestServer(t, nil), []badInput{
		{name: "unknown route", path: "/v3/predict", contentType: "application/json", body: `{}`,
			wantStatus: 404, wantType: problem.TypeNotFound},
		{name: "unknown route on the OIP tree carries the error member", path: "/v2/nothing", contentType: "application/json", body: `{}`,
			wantStatus: 404, wantType: problem.TypeNotFound, wantOIPError: true},
	})
}

func TestMethodNotAllowedIsProblem(t *testing.T) {
	t.Parallel()
	res := do(t, newTestServer(t, nil), http.MethodGet, "/v2/predict", "", "")
	require.Equal(t, http.StatusMethodNotAllowed, res.status)
	require.Equal(t, header.MediaProblemJSON, res.header.Get(header.ContentType))
	require.Contains(t, res.header.Get("Allow"), "POST")
}

func TestRequestIDEcho(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	res := do(t, s, http.MethodGet, "/healthz", "", "", header.RequestID, "abc-123")
	require.Equal(t, "abc-123", res.header.Get(header.RequestID))
	res = do(t, s, http.MethodGet, "/healthz", "", "", header.RequestID, "bad\x01id")
	require.Len(t, res.header.Get(header.RequestID), 32, "an unsafe id is replaced")
}

func TestPanicBecomesProblem(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	h := s.middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	res := do(t, h, http.MethodGet, "/x", "", "")
	require.Equal(t, http.StatusInternalServerError, res.status)
	require.Equal(t, header.MediaProblemJSON, res.header.Get(header.ContentType))
	require.NotContains(t, string(res.body), "boom")
}

// TestWriteJSON_EncodingFailureIsProblem checks the fallback: an answer
// that cannot be encoded leaves as a 500 problem, like every other error.
func TestWriteJSON_EncodingFailureIsProblem(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	h := s.middleware(s.answer(route{handle: func(w http.ResponseWriter, _ *http.Request) error {
		return writeJSON(w, http.StatusOK, map[string]any{"x": func() {}})
	}}))
	p := requireProblem(t, do(t, h, http.MethodGet, "/x", "", ""), http.StatusInternalServerError, problem.TypeInternal)
	require.Empty(t, p.OIPError)
}

// brokenBody fails every read, as a body does when the client goes away.
type brokenBody struct{}

func (brokenBody) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// TestUnreadableBodyIsClientError checks that a body that breaks off is a
// 400 on every body route, not a 500 logged as a server failure.
func TestUnreadableBodyIsClientError(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	for _, path := range []string{"/v1/predict", "/v2/predict", "/v2/models/iris/infer"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodPost, path, brokenBody{})
			req.Header.Set(header.ContentType, "application/json")
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			requireProblem(t, result{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}, http.StatusBadRequest, problem.TypeMalformedJSON)
		})
	}
}
