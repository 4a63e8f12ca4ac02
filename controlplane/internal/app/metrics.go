package app

import "github.com/prometheus/client_golang/prometheus"

// metrics are the control plane's own, on an injected registry.
type metrics struct {
	published *prometheus.CounterVec
	// version counts the snapshots published since start (a generation).
	version prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modelgate_controlplane_publish_total",
			Help: "Catalog loads turned into an xDS snapshot, by result: ok, or error (the last good snapshot stays).",
		}, []string{"result"}),
		version: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "modelgate_controlplane_snapshot_generation",
			Help: "How many good catalog loads the control plane has published since it started.",
		}),
	}
	reg.MustRegister(m.published, m.version)
	return m
}

// Published implements xds.Recorder.
func (m *metrics) Published(ok bool) {
	if ok {
		m.published.WithLabelValues("ok").Inc()
		return
	}
	m.published.WithLabelValues("error").Inc()
}
