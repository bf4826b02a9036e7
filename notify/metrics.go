package notify

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the dispatcher's Prometheus metrics. A Dispatcher holds its own;
// they are counted whether or not they are registered anywhere.
type Metrics struct {
	// Sent counts messages delivered (lobby_mail_sent_total).
	Sent prometheus.Counter
	// Deferred counts transient failures that were scheduled for a retry,
	// by diagnosis code (lobby_mail_deferred_total).
	Deferred *prometheus.CounterVec
	// Failed counts messages dead-lettered, by diagnosis code
	// (lobby_mail_failed_total).
	Failed *prometheus.CounterVec
	// SendSeconds is the time of one send attempt, by outcome: sent,
	// deferred or failed (lobby_mail_send_seconds).
	SendSeconds *prometheus.HistogramVec
}

// Outcome label values of [Metrics.SendSeconds].
const (
	outcomeSent     = "sent"
	outcomeDeferred = "deferred"
	outcomeFailed   = "failed"
)

// NewMetrics makes the dispatcher metrics and registers them with reg unless
// reg is nil.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lobby_mail_sent_total",
			Help: "Emails delivered to the SMTP server.",
		}),
		Deferred: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobby_mail_deferred_total",
			Help: "Send attempts that failed transiently and were scheduled for a retry, by diagnosis code.",
		}, []string{"code"}),
		Failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobby_mail_failed_total",
			Help: "Emails given up on (permanent failure or out of attempts), by diagnosis code.",
		}, []string{"code"}),
		SendSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lobby_mail_send_seconds",
			Help:    "Time of one send attempt, including connecting and getting a token when needed, by outcome.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"outcome"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.Sent, m.Deferred, m.Failed, m.SendSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("notify: metrics: %w", err)
		}
	}
	return m, nil
}

// StatsCollector exports the counters of the SMTP [Transport] (connections
// opened, closed, open and idle, messages sent, reuses, redials, token
// retries after a 535, token endpoint requests and their failures, the
// pool size, the connection limit and the refusals for too many
// connections that lower it) as Prometheus metrics, read at each scrape.
type StatsCollector struct {
	stats func() TransportStats
	descs []statDesc
}

type statDesc struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(TransportStats) float64
}

// NewStatsCollector returns a collector reading stats at each scrape,
// normally [Transport.Stats]. Register it with the registry of /metrics.
func NewStatsCollector(stats func() TransportStats) *StatsCollector {
	d := func(name, help string, kind prometheus.ValueType, v func(TransportStats) float64) statDesc {
		return statDesc{desc: prometheus.NewDesc(name, help, nil, nil), kind: kind, value: v}
	}
	return &StatsCollector{stats: stats, descs: []statDesc{
		d("lobby_smtp_connections_opened_total", "SMTP connections dialled and authenticated.",
			prometheus.CounterValue, func(s TransportStats) float64 { return float64(s.Opened) }),
		d("lobby_smtp_connections_closed_total", "SMTP connections closed (idle, stale, broken or at shutdown).",
			prometheus.CounterValue, func(s TransportStats) float64 { return float64(s.Closed) }),
		d("lobby_smtp_connections_open", "SMTP connections open now, idle or in use.",
			prometheus.GaugeValue, func(s TransportStats) float64 { return float64(s.Open) }),
		d("lobby_smtp_connections_idle", "SMTP connections open now and idle.",
			prometheus.GaugeValue, func(s TransportStats) float64 { return float64(s.Idle) }),
		d("lobby_smtp_messages_total", "Messages the SMTP server accepted.",
			prometheus.CounterValue, func(s TransportStats) float64 { return float64(s.Sent) }),
		d("lobby_smtp_connection_reuses_total", "Messages sent on a connection that had sent before.",
			prometheus.CounterValue, func(s TransportStats) float64 { return float64(s.Reused) }),
		d("lobby_smtp_redials_total", "Dials repeated after a broken connection.",
			prometheus.CounterValue, func(s TransportStats) float64 { return float64(s.Redials) }),
		d("lobby_smtp_auth_retries_total", "Access tokens renewed and SMTP AUTH retried after the server refused a cached token.",
			prometheus.CounterValue, func(s TransportStats) float64 { return float64(s.AuthRetries) }),
		d("lobby_smtp_token_fetches_total", "Access token requests to the token endpoint (tokens served from the cache not counted).",
			prometheus.CounterValue, func(s TransportStats) float64 { return float64(s.TokenFetches) }),
		d("lobby_smtp_token_fetch_failures_total", "Access token requests to the token endpoint that failed.",
			prometheus.CounterValue, func(s TransportStats) float64 { return float64(s.TokenFailures) }),
		d("lobby_smtp_pool_size", "The most SMTP connections the transport may open (its pool size, the number of mail workers).",
			prometheus.GaugeValue, func(s TransportStats) float64 { return float64(s.PoolSize) }),
		d("lobby_smtp_connection_limit", "The most SMTP connections the transport opens now: the pool size, or less after the server refused connections for too many; it grows back by one a minute.",
			prometheus.GaugeValue, func(s TransportStats) float64 { return float64(s.ConnLimit) }),
		d("lobby_smtp_too_many_connections_total", "Sends the SMTP server refused for too many connections (432 4.3.2 from Exchange Online, 421 4.7.0 elsewhere); each lowers the connection limit.",
			prometheus.CounterValue, func(s TransportStats) float64 { return float64(s.TooMany) }),
	}}
}

// Describe implements [prometheus.Collector].
func (c *StatsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d.desc
	}
}

// Collect implements [prometheus.Collector].
func (c *StatsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	for _, d := range c.descs {
		ch <- prometheus.MustNewConstMetric(d.desc, d.kind, d.value(s))
	}
}
