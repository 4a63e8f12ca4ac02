// Package server is extproc's gRPC face to Envoy: the ext_proc stream loop
// (one loop for every request, handing each phase to the route's processor
// from package processor), the ext_authz Check of the classic chain, and the
// one error mapper (respond.go) that turns any error into the problem+json
// answer a client sees. It holds no request logic of its own.
package server
