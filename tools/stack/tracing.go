package stack

import (
	"fmt"
	"net"
	"strconv"

	"github.com/modelgate/modelgate/envoy/bootstrap"
)

// otlpCollector is the Envoy endpoint of OTLPEndpoint, nil when tracing is
// off.
func (c *Config) otlpCollector() (*bootstrap.Endpoint, error) {
	if c.OTLPEndpoint == "" {
		return nil, nil
	}
	host, port, err := net.SplitHostPort(c.OTLPEndpoint)
	if err != nil {
		return nil, fmt.Errorf("stack: OTLPEndpoint %q: %w", c.OTLPEndpoint, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("stack: OTLPEndpoint %q: %w", c.OTLPEndpoint, err)
	}
	return &bootstrap.Endpoint{Host: host, Port: n}, nil
}

// otlpEnv is the standard OpenTelemetry environment of a service that
// sends its spans to OTLPEndpoint (none when tracing is off). The batch
// delay is short so a local run shows a request's spans within a second.
func (c *Config) otlpEnv(service string) []string {
	if c.OTLPEndpoint == "" {
		return nil
	}
	return []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + c.OTLPEndpoint, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_SERVICE_NAME=" + service, "OTEL_BSP_SCHEDULE_DELAY=500"}
}
