package server

import (
	"context"
	"errors"
	"io"
	"log/slog"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/modelgate/modelgate/extproc/internal/processor"
	"github.com/modelgate/modelgate/extproc/internal/routing"
	"github.com/modelgate/modelgate/extproc/internal/usage"
)

// Recorder receives one usage record per request.
type Recorder interface {
	Record(ctx context.Context, rec usage.Record)
}

// ExtProc answers Envoy's ext_proc Process streams. The stream loop only
// moves messages: it picks a processor per route on the first
// request_headers message, hands every phase to it, turns errors into
// ImmediateResponses (respond.go) and writes the usage record when the
// stream ends.
type ExtProc struct {
	extprocv3.UnimplementedExternalProcessorServer

	admission   *processor.Admission
	passThrough processor.Factory
	factories   map[routing.Kind]processor.Factory
	usage       Recorder
	logger      *slog.Logger
}

var _ extprocv3.ExternalProcessorServer = (*ExtProc)(nil)

// NewExtProc returns a server whose routes all pass through until
// processors are registered with [ExtProc.Register]. The admission reads
// every request's headers and counts refused requests before their answer;
// its clock times the usage records.
func NewExtProc(a *processor.Admission, rec Recorder, logger *slog.Logger) *ExtProc {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &ExtProc{
		admission: a, passThrough: processor.NewPassThrough(a),
		factories: map[routing.Kind]processor.Factory{}, usage: rec, logger: logger,
	}
}

// Register sets the processor factory of a route kind. Call it before
// serving.
func (s *ExtProc) Register(k routing.Kind, f processor.Factory) { s.factories[k] = f }

// Process implements [extprocv3.ExternalProcessorServer.Process].
func (s *ExtProc) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	ctx := stream.Context()
	var (
		req  *processor.Request
		proc processor.Processor
	)
	defer func() {
		if req == nil {
			return
		}
		proc.Close()
		s.record(ctx, req)
	}()
	for {
		msg, err := stream.Recv()
		if err != nil {
			// Envoy half-closes (io.EOF) or cancels (filter destroyed,
			// client gone) when it needs nothing more: a clean end.
			if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled || ctx.Err() != nil {
				return nil
			}
			return status.Errorf(codes.Unknown, "receive: %v", err)
		}
		if req == nil {
			req = processor.NewRequest(s.admission.Now())
			if pc := msg.GetProtocolConfig(); pc != nil {
				req.RequestBodyMode = pc.GetRequestBodyMode()
			}
			// Pass-through until the request headers say otherwise, so a
			// stream that begins at response_headers (a local reply of an
			// earlier filter) is answered too.
			proc = s.passThrough(req)
		}
		resp, err := s.handle(ctx, req, &proc, msg)
		if err != nil {
			resp = s.errorResponse(ctx, req, err)
		}
		if resp == nil {
			continue
		}
		if err := stream.Send(resp); err != nil {
			if status.Code(err) == codes.Canceled || ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// handle answers one message with exactly one response of the matching
// type (or an error for the error mapper). Messages of kinds it does not
// know get no answer.
func (s *ExtProc) handle(ctx context.Context, req *processor.Request, proc *processor.Processor, msg *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
	switch m := msg.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		err := s.admission.ReadHeaders(ctx, req, m.RequestHeaders)
		if f, ok := s.factories[req.Match.Kind]; ok {
			*proc = f(req)
		}
		if err != nil {
			return nil, err
		}
		resp, err := (*proc).RequestHeaders(ctx, m.RequestHeaders)
		if err != nil {
			return nil, err
		}
		return processor.WithIdentity(req, resp), nil
	case *extprocv3.ProcessingRequest_RequestBody:
		return (*proc).RequestBody(ctx, m.RequestBody)
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{
			RequestTrailers: &extprocv3.TrailersResponse{}}}, nil
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		req.ReadAttributes(msg.GetAttributes())
		return (*proc).ResponseHeaders(ctx, m.ResponseHeaders)
	case *extprocv3.ProcessingRequest_ResponseBody:
		req.ReadAttributes(msg.GetAttributes())
		return (*proc).ResponseBody(ctx, m.ResponseBody)
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{
			ResponseTrailers: &extprocv3.TrailersResponse{}}}, nil
	default:
		s.logger.LogAttrs(ctx, slog.LevelDebug, "ext_proc message without a known phase ignored")
		return nil, nil
	}
}

// record writes the usage record of a finished request.
func (s *ExtProc) record(ctx context.Context, r *processor.Request) {
	if s.usage == nil {
		return
	}
	route := r.Match.Kind.String()
	if r.Method == "" {
		route = "local_reply" // the stream began at response_headers
	}
	s.usage.Record(context.WithoutCancel(ctx), usage.Record{
		RequestID:        r.RequestID,
		Client:           r.Client,
		Tier:             r.Tier,
		KeyID:            r.KeyID,
		Route:            route,
		Method:           r.Method,
		Path:             r.Match.Path,
		Model:            r.Target.Model,
		Version:          r.Target.Version,
		Requested:        r.Target.Requested,
		Status:           r.Status,
		Cache:            r.Cache,
		Problem:          r.Problem,
		Latency:          s.admission.Now().Sub(r.Start),
		RequestBytes:     r.RequestBytes,
		ResponseBytes:    r.ResponseBytes,
		Rows:             r.Rows,
		PromptTokens:     r.Tokens.Prompt,
		CompletionTokens: r.Tokens.Completion,
		TokensReserved:   r.Tokens.Reserved,
	})
}
