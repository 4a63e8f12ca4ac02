package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/genproto/googleapis/rpc/code"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/extproc/internal/authz"
	"github.com/modelgate/modelgate/extproc/internal/processor"
)

// MetricChecks counts ext_authz decisions, with attribute result =
// allowed, missing, malformed, unknown, revoked, expired or error.
const MetricChecks = "modelgate.authz.checks"

// realm names the protection space in WWW-Authenticate (RFC 9110 §11.5).
const realm = "modelgate"

// Authz answers Envoy's ext_authz Check calls: it authenticates the API key
// of each request against an [authz.Store]. Allowed requests continue
// upstream with x-modelgate-client, -tier and -key-id set and the key
// headers removed; every other outcome is a local 401 (500 for an internal
// failure) with a problem+json body. It fails closed: nothing but a valid
// key produces an OK.
type Authz struct {
	authv3.UnimplementedAuthorizationServer

	store  *authz.Store
	logger *slog.Logger
	checks metric.Int64Counter
	// attrs holds the pre-built metric options of each outcome; passing a
	// ready slice to the variadic Add allocates nothing.
	attrs [numOutcomes][]metric.AddOption
	// removeHeaders is shared by every OK response; protobuf marshalling
	// only reads it.
	removeHeaders []string
}

var (
	_ authv3.AuthorizationServer = (*Authz)(nil)
	_ processor.KeyChecker       = (*Authz)(nil)
)

// NewAuthz returns the ext_authz handler for store. logger and meter may be
// nil.
func NewAuthz(store *authz.Store, logger *slog.Logger, meter metric.Meter) *Authz {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if meter == nil {
		meter = noop.NewMeterProvider().Meter("")
	}
	a := &Authz{
		store:         store,
		logger:        logger,
		removeHeaders: []string{header.APIKey, header.Authorization},
	}
	checks, err := meter.Int64Counter(MetricChecks,
		metric.WithDescription("ext_authz API-key decisions, by result."),
		metric.WithUnit("{check}"))
	if err != nil {
		// The API only fails on invalid names; ours is constant. Count
		// nothing rather than refuse to start.
		logger.Error("create authz metric", slog.String("error", err.Error()))
		checks, _ = noop.NewMeterProvider().Meter("").Int64Counter(MetricChecks)
	}
	a.checks = checks
	for o := range outcome(numOutcomes) {
		a.attrs[o] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("result", o.info().result)))}
	}
	return a
}

// Check implements [authv3.AuthorizationServer.Check]. It never returns a
// gRPC error: a failure is an explicit denial, so that even an Envoy
// configured with failure_mode_allow cannot let the request through.
func (a *Authz) Check(ctx context.Context, req *authv3.CheckRequest) (resp *authv3.CheckResponse, err error) {
	var h requestHeaders
	defer func() {
		if r := recover(); r != nil {
			a.logger.LogAttrs(ctx, slog.LevelError, "ext_authz check panicked; denying",
				slog.String("panic", fmt.Sprint(r)), slog.String("stack", string(debug.Stack())))
			a.checks.Add(ctx, 1, a.attrs[failed]...)
			resp, err = a.deny(failed, h.requestID), nil
		}
	}()

	h = readHeaders(req.GetAttributes().GetRequest().GetHttp())
	p, err := a.Authenticate(ctx, h.apiKey, h.authorization, h.requestID)
	if err != nil {
		return a.deny(outcomeOf(err), h.requestID), nil
	}
	return allow(p, a.removeHeaders), nil
}

// Authenticate checks the credentials of one request (the values of its
// x-api-key and Authorization headers), counts the decision and logs a
// refusal. Both key checks use it: ext_authz's Check, and the ext_proc
// stream's request_headers phase when the plugin checks keys itself
// ([processor.KeyChecker]).
func (a *Authz) Authenticate(ctx context.Context, apiKey, authorization, requestID string) (authz.Principal, error) {
	key, err := authz.ParseCredential(apiKey, authorization)
	if err != nil {
		a.refused(ctx, err, requestID, "")
		return authz.Principal{}, err
	}
	p, err := a.store.Authenticate(key)
	if err != nil {
		a.refused(ctx, err, requestID, key)
		return authz.Principal{}, err
	}
	a.checks.Add(ctx, 1, a.attrs[allowed]...)
	return p, nil
}

// refused logs and counts a refusal.
func (a *Authz) refused(ctx context.Context, err error, requestID, key string) {
	o := outcomeOf(err)
	a.checks.Add(ctx, 1, a.attrs[o]...)
	level := slog.LevelDebug
	if o == failed {
		level = slog.LevelError
	}
	if a.logger.Enabled(ctx, level) {
		attrs := []slog.Attr{slog.String("reason", o.info().result), slog.String("request_id", requestID)}
		if o == revoked || o == expired {
			// The key matched an entry, so its id is ours and safe to
			// name. Never the key itself.
			attrs = append(attrs, slog.String("key_id", authz.KeyIDOf(key)))
		}
		if o == failed {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		a.logger.LogAttrs(ctx, level, "api key refused", attrs...)
	}
}

// requestHeaders are the request headers the check reads.
type requestHeaders struct {
	apiKey, authorization, requestID string
}

// readHeaders takes the headers from the map Envoy fills by default (keys
// lower-cased, repeated headers comma-joined) or, with encode_raw_headers,
// from header_map, where repeats stay separate: they are joined here the
// same way, so that two keys read as one malformed credential.
func readHeaders(h *authv3.AttributeContext_HttpRequest) requestHeaders {
	if m := h.GetHeaders(); len(m) > 0 {
		return requestHeaders{
			apiKey:        m[header.APIKey],
			authorization: m[header.Authorization],
			requestID:     m[header.RequestID],
		}
	}
	var r requestHeaders
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		var dst *string
		switch k := hv.GetKey(); {
		case strings.EqualFold(k, header.APIKey):
			dst = &r.apiKey
		case strings.EqualFold(k, header.Authorization):
			dst = &r.authorization
		case strings.EqualFold(k, header.RequestID):
			dst = &r.requestID
		default:
			continue
		}
		v := hv.GetValue()
		if v == "" {
			v = string(hv.GetRawValue())
		}
		if *dst == "" {
			*dst = v
		} else {
			*dst += "," + v
		}
	}
	return r
}

// outcome is the result of one check.
type outcome int

const (
	allowed outcome = iota
	missing
	malformed
	unknown
	revoked
	expired
	failed
	numOutcomes
)

// outcomeInfo is what a denial of one kind says.
type outcomeInfo struct {
	result     string
	httpStatus int
	grpcCode   code.Code
	title      string
	detail     string
	// authenticate is the WWW-Authenticate value; RFC 6750 §3.1 says a
	// request without credentials gets no error code, a malformed one
	// invalid_request, and a key that fails invalid_token.
	authenticate string
}

// info returns what an outcome says; a switch rather than a package-level
// table keeps the package free of globals.
func (o outcome) info() outcomeInfo {
	const challenge = `Bearer realm="` + realm + `"`
	switch o {
	case allowed:
		return outcomeInfo{result: "allowed"}
	case missing:
		return refused("missing",
			"The request carries no API key. Send it in the x-api-key header or as Authorization: Bearer <key>.",
			challenge)
	case malformed:
		return refused("malformed",
			"The API key is malformed. Send one modelgate key (mg_...) in the x-api-key header or as Authorization: Bearer <key>; when both headers are sent, both must carry that same key.",
			challenge+`, error="invalid_request", error_description="malformed API key"`)
	case unknown:
		return refused("unknown", "The API key is not valid.",
			challenge+`, error="invalid_token", error_description="unknown API key"`)
	case revoked:
		return refused("revoked", "The API key has been revoked. Ask your administrator for a new key.",
			challenge+`, error="invalid_token", error_description="API key revoked"`)
	case expired:
		return refused("expired", "The API key has expired. Ask your administrator for a new key.",
			challenge+`, error="invalid_token", error_description="API key expired"`)
	default:
		return outcomeInfo{
			result: "error", httpStatus: http.StatusInternalServerError, grpcCode: code.Code_INTERNAL,
			title:  "Internal error",
			detail: "The API key could not be checked. Try again later.",
		}
	}
}

// problem is the problem+json body of a refusal; both key checks answer
// with it.
func (o outcome) problem() *problem.Problem {
	info := o.info()
	typ := problem.TypeUnauthorized
	if o == failed {
		typ = problem.TypeInternal
	}
	return problem.New(typ, info.httpStatus, info.title, info.detail)
}

// refused is the 401 of a request whose key did not pass.
func refused(result, detail, authenticate string) outcomeInfo {
	return outcomeInfo{
		result: result, httpStatus: http.StatusUnauthorized, grpcCode: code.Code_UNAUTHENTICATED,
		title: "Unauthorized", detail: detail, authenticate: authenticate,
	}
}

// outcomeOf maps an error of the authz package to its outcome. Anything
// unexpected is a failure, which denies.
func outcomeOf(err error) outcome {
	switch {
	case errors.Is(err, authz.ErrMissing):
		return missing
	case errors.Is(err, authz.ErrMalformed):
		return malformed
	case errors.Is(err, authz.ErrUnknown):
		return unknown
	case errors.Is(err, authz.ErrRevoked):
		return revoked
	case errors.Is(err, authz.ErrExpired):
		return expired
	default:
		return failed
	}
}

// okResponse holds every message of an OK answer in one allocation; the
// handler runs on every request.
type okResponse struct {
	resp    authv3.CheckResponse
	status  rpcstatus.Status
	oneof   authv3.CheckResponse_OkResponse
	ok      authv3.OkHttpResponse
	ptrs    [3]*corev3.HeaderValueOption
	options [3]corev3.HeaderValueOption
	values  [3]corev3.HeaderValue
	replace wrapperspb.BoolValue
}

// allow builds the OK answer for p. The headers are set with append=false,
// which overwrites whatever the client sent under the same names; Envoy's
// ext_authz reads HeaderValue.value (not raw_value, unlike ext_proc).
func allow(p authz.Principal, removeHeaders []string) *authv3.CheckResponse {
	r := &okResponse{}
	r.status.Code = int32(code.Code_OK)
	set := func(i int, k, v string) {
		r.values[i].Key, r.values[i].Value = k, v
		r.options[i].Header = &r.values[i]
		// The legacy append flag rather than append_action: every Envoy
		// with ext_authz honours it, while append_action support in
		// ext_authz is recent (envoy-protocol.md §2.2).
		//lint:ignore SA1019 deliberate, see above
		r.options[i].Append = &r.replace
		r.ptrs[i] = &r.options[i]
	}
	set(0, header.Client, p.Client)
	set(1, header.Tier, p.Tier)
	set(2, header.KeyID, p.KeyID)
	r.ok.Headers = r.ptrs[:]
	r.ok.HeadersToRemove = removeHeaders
	r.oneof.OkResponse = &r.ok
	r.resp.Status = &r.status
	r.resp.HttpResponse = &r.oneof
	return &r.resp
}

// deniedResponse holds every message of a denial in one allocation.
type deniedResponse struct {
	resp    authv3.CheckResponse
	status  rpcstatus.Status
	oneof   authv3.CheckResponse_DeniedResponse
	denied  authv3.DeniedHttpResponse
	code    typev3.HttpStatus
	ptrs    [2]*corev3.HeaderValueOption
	options [2]corev3.HeaderValueOption
	values  [2]corev3.HeaderValue
	replace wrapperspb.BoolValue
}

// deny is the one place that turns an outcome into a denied CheckResponse:
// a non-OK status (so Envoy denies rather than errs) with a local reply of
// problem+json.
func (a *Authz) deny(o outcome, requestID string) *authv3.CheckResponse {
	info := o.info()
	body := o.problem()
	body.RequestID = requestID

	r := &deniedResponse{}
	r.status.Code = int32(info.grpcCode)
	r.status.Message = info.result
	r.code.Code = typev3.StatusCode(info.httpStatus)
	n := 0
	set := func(k, v string) {
		r.values[n].Key, r.values[n].Value = k, v
		r.options[n].Header = &r.values[n]
		//lint:ignore SA1019 the legacy flag works on every Envoy (see allow)
		r.options[n].Append = &r.replace
		r.ptrs[n] = &r.options[n]
		n++
	}
	set(header.ContentType, header.MediaProblemJSON)
	if info.authenticate != "" {
		set(header.WWWAuthenticate, info.authenticate)
	}
	r.denied.Status = &r.code
	r.denied.Headers = r.ptrs[:n]
	r.denied.Body = string(body.JSON())
	r.oneof.DeniedResponse = &r.denied
	r.resp.Status = &r.status
	r.resp.HttpResponse = &r.oneof
	return &r.resp
}
