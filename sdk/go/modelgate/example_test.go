package modelgate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/predict"
	"github.com/modelgate/modelgate/sdk/go/modelgate"
)

// exampleGateway answers the quick start's calls.
func exampleGateway() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/predict", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(predict.V2Response{ModelVersion: "2", Predictions: []predict.Prediction{{Label: "setosa"}}})
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "text/event-stream")
		fmt.Fprint(w, `data: {"choices":[{"index":0,"delta":{"content":"Light."},"finish_reason":null}]}`+"\n\ndata: [DONE]\n\n")
	})
	mux.HandleFunc("POST /v2/jobs", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"id":"job_1","object":"job","status":"queued"}`)
	})
	mux.HandleFunc("GET /v2/jobs/job_1", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"id":"job_1","object":"job","status":"succeeded"}`)
	})
	return httptest.NewServer(mux)
}

// ExampleClient is the README's quick start.
func ExampleClient() {
	srv := exampleGateway()
	defer srv.Close()

	c, err := modelgate.New(modelgate.Config{APIKey: "mg_...", BaseURL: srv.URL})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	row := predict.Row{"sepal_length": json.RawMessage("5.1"), "sepal_width": json.RawMessage("3.5"),
		"petal_length": json.RawMessage("1.4"), "petal_width": json.RawMessage("0.2")}
	out, err := c.Predict(ctx, predict.V2Request{Model: "iris", Inputs: []predict.Row{row}})
	var apiErr *modelgate.APIError
	switch {
	case modelgate.IsValidation(err) && errors.As(err, &apiErr):
		for _, v := range apiErr.Violations() {
			fmt.Println(v.Pointer, v.Detail)
		}
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println(out.ModelVersion, out.Predictions[0].Label)
	}

	s, err := c.ChatCompletionStream(ctx, openai.ChatCompletionRequest{
		Model: "scribe", Messages: []openai.Message{{Role: "user", Content: "In the beginning"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for s.Next() {
		for _, ch := range s.Current().Choices {
			if ch.Delta.Content != nil {
				fmt.Print(*ch.Delta.Content)
			}
		}
	}
	if err := s.Err(); err != nil {
		log.Fatal(err)
	}
	fmt.Println()

	job, err := c.SubmitJob(ctx, modelgate.JobRequest{Model: "iris", Inputs: []predict.Row{row},
		Webhook: "https://example.com/hooks/modelgate"})
	if err != nil {
		log.Fatal(err)
	}
	done, err := c.WaitJob(ctx, job.ID, time.Second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(done.Status)
	// Output:
	// 2 setosa
	// Light.
	// succeeded
}
