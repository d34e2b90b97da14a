// Package telemetry holds the Prometheus metrics of the API and the worker
// and the queue collector from asynq's x/metrics package.
//
// Tenant ids are never used as labels: their number is unbounded.
package telemetry

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynq/x/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Metrics are the service's collectors, registered on their own registry.
type Metrics struct {
	reg *prometheus.Registry

	HTTPRequests   *prometheus.CounterVec
	HTTPDuration   *prometheus.HistogramVec
	JobsSubmitted  *prometheus.CounterVec
	ItemsFinished  *prometheus.CounterVec
	ItemRetries    *prometheus.CounterVec
	GraphCalls     *prometheus.CounterVec
	GraphDuration  *prometheus.HistogramVec
	GraphThrottled *prometheus.CounterVec
	BudgetWait     *prometheus.CounterVec
	PolicyFlushes  *prometheus.CounterVec
}

// New returns metrics registered on a fresh registry (with the Go and
// process collectors).
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.HTTPRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "remediator_http_requests_total", Help: "HTTP requests by route, method and status code.",
	}, []string{"route", "method", "code"})
	m.HTTPDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "remediator_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route", "method"})
	m.JobsSubmitted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "remediator_jobs_submitted_total", Help: "Accepted remediation jobs by action and kind (normal, dry_run, undo, retry).",
	}, []string{"action", "kind"})
	m.ItemsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "remediator_items_finished_total", Help: "Items that reached a terminal status, by action and status.",
	}, []string{"action", "status"})
	m.ItemRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "remediator_item_retries_total", Help: "Items put back for a retry, by action and reason (Graph status or error code).",
	}, []string{"action", "reason"})
	m.GraphCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "remediator_graph_calls_total", Help: "Microsoft Graph calls by operation and HTTP status (0 = no answer).",
	}, []string{"operation", "code"})
	m.GraphDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "remediator_graph_call_duration_seconds", Help: "Microsoft Graph call latency by operation.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"operation"})
	m.GraphThrottled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "remediator_graph_throttled_total", Help: "Graph answers 429 by operation.",
	}, []string{"operation"})
	m.BudgetWait = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "remediator_budget_wait_seconds_total", Help: "Time spent waiting for a tenant's Graph budget, by budget.",
	}, []string{"budget"})
	m.PolicyFlushes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "remediator_policy_flushes_total", Help: "Batched Conditional Access policy flushes by kind and result.",
	}, []string{"kind", "result"})
	m.reg.MustRegister(m.HTTPRequests, m.HTTPDuration, m.JobsSubmitted, m.ItemsFinished, m.ItemRetries,
		m.GraphCalls, m.GraphDuration, m.GraphThrottled, m.BudgetWait, m.PolicyFlushes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WithQueue adds asynq's queue metrics (sizes, latency, processed and
// failed counts per queue) read through an Inspector on the same Redis.
func (m *Metrics) WithQueue(opt asynq.RedisConnOpt) *Metrics {
	m.reg.MustRegister(metrics.NewQueueMetricsCollector(asynq.NewInspector(opt)))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry exposes the registry (tests, extra collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveCalls records Graph calls from an item's call log.
func (m *Metrics) ObserveCalls(calls []remediation.Call) {
	if m == nil {
		return
	}
	for _, c := range calls {
		m.GraphCalls.WithLabelValues(c.Operation, strconv.Itoa(c.HTTPStatus)).Inc()
		m.GraphDuration.WithLabelValues(c.Operation).Observe(c.Duration.Seconds())
		if c.HTTPStatus == http.StatusTooManyRequests {
			m.GraphThrottled.WithLabelValues(c.Operation).Inc()
		}
	}
}

// ObserveItem records a terminal item status.
func (m *Metrics) ObserveItem(action remediation.Action, status remediation.ItemStatus) {
	if m == nil {
		return
	}
	m.ItemsFinished.WithLabelValues(string(action), string(status)).Inc()
}

// ObserveRetry records an item put back for a retry.
func (m *Metrics) ObserveRetry(action remediation.Action, reason string) {
	if m == nil {
		return
	}
	m.ItemRetries.WithLabelValues(string(action), reason).Inc()
}

// ObserveBudgetWait records time spent waiting for budget.
func (m *Metrics) ObserveBudgetWait(budget string, d time.Duration) {
	if m == nil || d <= 0 {
		return
	}
	m.BudgetWait.WithLabelValues(budget).Add(d.Seconds())
}

// ObserveHTTP records one HTTP request.
func (m *Metrics) ObserveHTTP(route, method string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.HTTPRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.HTTPDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// ObserveJob records an accepted job.
func (m *Metrics) ObserveJob(action remediation.Action, kind string) {
	if m == nil {
		return
	}
	m.JobsSubmitted.WithLabelValues(string(action), kind).Inc()
}
