package telemetry

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/internal/testenv"
)

func TestMetricsExposition(t *testing.T) {
	r := testenv.Redis(t)
	m := New().WithQueue(r.Opt())
	m.ObserveCalls([]remediation.Call{
		{Operation: "PATCH /users/{id}", HTTPStatus: 204, Duration: 20 * time.Millisecond},
		{Operation: "PATCH /users/{id}", HTTPStatus: 429, Duration: 5 * time.Millisecond},
	})
	m.ObserveItem(remediation.ActionDisableUser, remediation.ItemSucceeded)
	m.ObserveHTTP("/v1/remediations/:id", "GET", 200, time.Millisecond)
	m.ObserveBudgetWait("writes", 1500*time.Millisecond)
	var nilM *Metrics
	nilM.ObserveItem(remediation.ActionDisableUser, remediation.ItemFailed) // safe on nil

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`remediator_graph_calls_total{code="204",operation="PATCH /users/{id}"} 1`,
		`remediator_graph_throttled_total{operation="PATCH /users/{id}"} 1`,
		`remediator_items_finished_total{action="disable_user",status="succeeded"} 1`,
		`remediator_http_requests_total{code="200",method="GET",route="/v1/remediations/:id"} 1`,
		`remediator_budget_wait_seconds_total{budget="writes"} 1.5`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}
