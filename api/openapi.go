// Package api holds the public HTTP API document, api/openapi.yaml, for
// the programs that render configuration from it (the Envoy bootstrap's
// method table). Services read the file named in their configuration.
package api

import _ "embed"

// OpenAPI is api/openapi.yaml: the hand-edited OpenAPI 3.1 document.
//
//go:embed openapi.yaml
var OpenAPI []byte
