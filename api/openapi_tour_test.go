package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// The conformance tour: every route of the API, its success and its main
// error answers, through the OpenAPI harness (openapi_harness_test.go).
// This file: probes, tenants, webhooks, keys, audit, and a server without
// access store or verifier; openapi_tour_jobs_test.go: remediations.

const tenantD = "55555555-5555-5555-5555-555555555555" // a second app id

// actor is the X-Actor of the tour's audited requests.
var actor = map[string]string{"X-Actor": "jane@soc.example"}

// refusingLimiter refuses the keys in ids.
type refusingLimiter struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (l *refusingLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.ids[key], 1500 * time.Millisecond, nil
}

// storeOnly hides the access store of a Store.
type storeOnly struct{ remediation.Store }

// tour is the state of the conformance tour.
type tour struct {
	t       *testing.T
	e       *env
	cl      *client
	cf      *conformance
	limiter *refusingLimiter
}

func newTour(t *testing.T) *tour {
	setEventTimings(t, 10*time.Millisecond, time.Hour, time.Hour, eventsItemsMax)
	tr := &tour{t: t, limiter: &refusingLimiter{ids: map[string]bool{}}}
	v := &fakeVerifier{result: &remediation.Verification{TokenAcquired: true, Granted: []string{"User.Read.All"},
		Missing: []string{"User.RevokeSessions.All"}, MissingFor: map[string]string{"User.RevokeSessions.All": "revoke_sessions"},
		Error: &remediation.ItemError{Code: "Authorization_RequestDenied", Message: "Insufficient privileges."}}}
	tr.e = newEnv(t, accessOpts(v), func(c *Config) {
		c.MetricsHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			_, _ = io.WriteString(w, "# TYPE up gauge\nup 1\n")
		})
		c.RateLimiter = tr.limiter
		c.MaxIdentities = 50
		c.DryRunWait = eventWait
	})
	preview := tr.e.previewWorker(t)
	tr.e.disp.setOnStart(func(jobID string) {
		if j, err := tr.e.store.GetJob(context.Background(), jobID); err == nil && j.DryRun {
			preview(jobID)
		}
	})
	tr.cf = newConformance(t)
	tr.cl = newValidatedServer(t, tr.cf, tr.e.srv.Handler())
	return tr
}

// as sends c with the bootstrap key (unless c names a key) and checks the
// status of the answer.
func (tr *tour) as(c call, want int) answer {
	tr.t.Helper()
	if c.key == "" {
		c.key = testAPIKey
	}
	return tr.cl.do(c, want)
}

// id returns the "id" field of a JSON answer.
func (a answer) id(t *testing.T) string {
	t.Helper()
	id, _ := a.json(t)["id"].(string)
	if id == "" {
		t.Fatalf("no id in %s", a.body)
	}
	return id
}

func tenantCreate(id string) map[string]any {
	return map[string]any{"tenant_id": id, "display_name": "Tenant " + id[:4], "client_id": testClientID,
		"client_secret": testSecret, "cloud": "public"}
}

func (tr *tour) probes() {
	const get = http.MethodGet
	tr.cl.do(call{method: get, path: "/healthz"}, http.StatusOK)
	tr.cl.do(call{method: get, path: "/readyz"}, http.StatusOK)
	tr.e.disp.mu.Lock()
	tr.e.disp.pingErr = context.DeadlineExceeded
	tr.e.disp.mu.Unlock()
	tr.cl.do(call{method: get, path: "/readyz"}, http.StatusServiceUnavailable)
	tr.e.disp.mu.Lock()
	tr.e.disp.pingErr = nil
	tr.e.disp.mu.Unlock()
	tr.cl.do(call{method: get, path: "/metrics"}, http.StatusOK)
	a := tr.cl.do(call{method: get, path: "/openapi.yaml"}, http.StatusOK)
	if string(a.body) != string(openapiYAML) || a.header.Get("Content-Type") != mimeYAML {
		tr.t.Errorf("GET /openapi.yaml: Content-Type %q, %d bytes", a.header.Get("Content-Type"), len(a.body))
	}
}

func (tr *tour) tenants() {
	t, e := tr.t, tr.e
	const get, post = http.MethodGet, http.MethodPost
	tr.as(call{method: post, path: "/v1/tenants", body: tenantCreate(tenantA), header: actor}, http.StatusCreated)
	k := testRSAKey(t, 0)
	certTenant := tenantCreate(tenantB)
	delete(certTenant, "client_secret")
	certTenant["certificate"] = map[string]any{"pem": certPEM(t, k, time.Now().Add(24*time.Hour)) + keyPEM(t, k)}
	tr.as(call{method: post, path: "/v1/tenants", body: certTenant}, http.StatusCreated)
	tr.as(call{method: post, path: "/v1/tenants", body: tenantCreate(tenantA)}, http.StatusConflict)
	tr.as(call{method: post, path: "/v1/tenants", body: map[string]any{"tenant_id": "nope", "display_name": "x",
		"client_id": testClientID, "client_secret": "s"}, invalid: true}, http.StatusBadRequest)
	custom := tenantCreate(tenantC)
	custom["cloud"], custom["graph_endpoint"], custom["authority_host"] = "custom", "https://graph.example.com/v1.0", "https://login.example.com/"
	tr.as(call{method: post, path: "/v1/tenants", body: custom}, http.StatusForbidden)
	tr.cl.do(call{method: post, path: "/v1/tenants", body: tenantCreate(tenantC), invalid: true}, http.StatusUnauthorized)
	tr.as(call{method: post, path: "/v1/tenants", body: tenantCreate(tenantC), key: e.key(remediation.RoleViewer)}, http.StatusForbidden)
	tr.as(call{method: post, path: "/v1/tenants", body: tenantCreate(tenantC), key: e.key(remediation.RoleAdmin, tenantA)},
		http.StatusForbidden)

	ctx := context.Background()
	if err := e.store.SetPolicyRef(ctx, tenantA, remediation.PolicyMFA, remediation.PolicyRef{PolicyID: "ca-1", GroupID: "grp-1"}); err != nil {
		t.Fatal(err)
	}
	limits := &remediation.GraphLimits{ResourceUnits: 1000, ResourceUnitsWindowS: 10, CARequestsPerS: 0.5}
	if _, err := e.store.UpdateTenantSettings(ctx, tenantB, remediation.TenantSettings{GraphLimits: limits}); err != nil {
		t.Fatal(err)
	}
	tr.as(call{method: get, path: "/v1/tenants"}, http.StatusOK)
	tr.as(call{method: get, path: "/v1/tenants/" + tenantA}, http.StatusOK)
	tr.as(call{method: get, path: "/v1/tenants/" + tenantB}, http.StatusOK)
	tr.as(call{method: get, path: "/v1/tenants/nope", invalid: true}, http.StatusBadRequest)
	tr.as(call{method: get, path: "/v1/tenants/" + tenantC}, http.StatusNotFound)

	settings := map[string]any{"protected_identities": []string{tenantD}, "mfa_policy_state": "report_only", "mfa_targeting": "group"}
	tr.as(call{method: http.MethodPatch, path: "/v1/tenants/" + tenantA, body: settings, header: actor}, http.StatusOK)
	tr.as(call{method: http.MethodPatch, path: "/v1/tenants/" + tenantA, body: map[string]any{}, invalid: true}, http.StatusBadRequest)
	tr.as(call{method: http.MethodPatch, path: "/v1/tenants/" + tenantC, body: map[string]any{"mfa_targeting": "users"}},
		http.StatusNotFound)

	creds := "/v1/tenants/" + tenantA + "/credentials"
	tr.as(call{method: http.MethodPut, path: creds, body: map[string]any{"client_secret": "rotated-" + testSecret,
		"client_id": tenantD}, header: actor}, http.StatusOK)
	tr.as(call{method: http.MethodPut, path: creds, body: map[string]any{"client_secret": "x",
		"certificate": map[string]any{"pem": "junk"}}}, http.StatusBadRequest)
	tr.as(call{method: http.MethodPut, path: "/v1/tenants/" + tenantC + "/credentials",
		body: map[string]any{"client_secret": "x"}}, http.StatusNotFound)

	tr.as(call{method: post, path: "/v1/tenants/" + tenantA + "/verify", header: actor}, http.StatusOK)
	tr.as(call{method: post, path: "/v1/tenants/" + tenantA + "/verify", body: map[string]any{"deep": true}, invalid: true},
		http.StatusBadRequest)
	tr.as(call{method: post, path: "/v1/tenants/" + tenantC + "/verify"}, http.StatusNotFound)
}

func (tr *tour) webhooks() {
	t, e := tr.t, tr.e
	const get, post, del = http.MethodGet, http.MethodPost, http.MethodDelete
	hooks := "/v1/tenants/" + tenantA + "/webhooks"
	hookID := tr.as(call{method: post, path: hooks, header: actor, body: map[string]any{
		"url": "https://" + hookHost + "/in", "events": []string{"job.finished", "item.failed"}}}, http.StatusCreated).id(t)
	tr.as(call{method: post, path: hooks, body: map[string]any{"url": "https://internal.example.com/in"}}, http.StatusBadRequest)
	tr.as(call{method: post, path: "/v1/tenants/" + tenantC + "/webhooks", body: map[string]any{"url": "https://" + hookHost}},
		http.StatusNotFound)
	tr.as(call{method: get, path: hooks}, http.StatusOK)

	ctx, now := context.Background(), time.Now().UTC()
	finishedJob, _ := json.Marshal(remediation.JobFinishedPayload{Event: remediation.EventJobFinished, Job: remediation.WebhookJob{
		ID: "job-1", TenantID: tenantA, Action: remediation.ActionDisableUser, Status: remediation.JobCompleted, Total: 1,
		Counts: map[remediation.ItemStatus]int{remediation.ItemSucceeded: 1}, Reason: "r", CreatedAt: now, FinishedAt: &now}})
	failedItem, _ := json.Marshal(remediation.ItemFailedPayload{Event: remediation.EventItemFailed, Item: remediation.WebhookItem{
		JobID: "job-1", TenantID: tenantA, Action: remediation.ActionDisableUser, Identity: "u@contoso.com",
		Error: &remediation.ItemError{Code: "x", Message: "y"}, Attempts: 2, FailedAt: now}})
	for _, d := range []*remediation.WebhookDelivery{
		{ID: "d-1", WebhookID: hookID, Event: remediation.EventJobFinished, Payload: finishedJob},
		{ID: "d-2", WebhookID: hookID, Event: remediation.EventItemFailed, Payload: failedItem},
	} {
		if err := e.store.EnqueueDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	delivered := &remediation.WebhookDelivery{ID: "d-1", Status: remediation.DeliveryDelivered, Attempts: 1, LastStatus: 204,
		DeliveredAt: &now}
	if err := e.store.UpdateDelivery(ctx, delivered); err != nil {
		t.Fatal(err)
	}
	deliveries := hooks + "/" + hookID + "/deliveries"
	tr.as(call{method: get, path: deliveries}, http.StatusOK)
	tr.as(call{method: get, path: deliveries + "?limit=0", invalid: true}, http.StatusBadRequest)
	tr.as(call{method: get, path: hooks + "/no-such-hook/deliveries"}, http.StatusNotFound)
	tr.as(call{method: del, path: hooks + "/" + hookID, header: actor}, http.StatusNoContent)
	tr.as(call{method: del, path: hooks + "/" + hookID}, http.StatusNotFound)

	for range maxWebhooksPerTenant {
		e.addWebhook(tenantB)
	}
	tr.as(call{method: post, path: "/v1/tenants/" + tenantB + "/webhooks", body: map[string]any{"url": "https://" + hookHost}},
		http.StatusUnprocessableEntity)
}

func (tr *tour) keysAndAudit() {
	t, e := tr.t, tr.e
	const get, post, del = http.MethodGet, http.MethodPost, http.MethodDelete
	tr.as(call{method: post, path: "/v1/keys", header: actor, body: map[string]any{"name": "portal", "role": "operator",
		"tenants": []string{tenantA}}}, http.StatusCreated)
	reader := tr.as(call{method: post, path: "/v1/keys", body: map[string]any{"name": "reader", "role": "viewer",
		"tenants": nil}}, http.StatusCreated).id(t)
	tr.as(call{method: post, path: "/v1/keys", body: map[string]any{"name": "", "role": "boss"}, invalid: true}, http.StatusBadRequest)
	tr.as(call{method: get, path: "/v1/keys"}, http.StatusOK)
	tr.as(call{method: get, path: "/v1/keys", key: e.key(remediation.RoleAdmin, tenantA)}, http.StatusForbidden)
	tr.as(call{method: del, path: "/v1/keys/" + reader, header: actor}, http.StatusNoContent)
	tr.as(call{method: del, path: "/v1/keys/no-such-key"}, http.StatusNotFound)

	tr.as(call{method: get, path: "/v1/audit"}, http.StatusOK)
	tr.as(call{method: get, path: "/v1/audit?tenant_id=" + tenantA + "&action=tenant.create&since=2020-01-01T00:00:00Z&limit=5"},
		http.StatusOK)
	tr.as(call{method: get, path: "/v1/audit", header: map[string]string{"Accept": "text/csv"}}, http.StatusOK)
	tr.as(call{method: get, path: "/v1/audit?action=nope", invalid: true}, http.StatusBadRequest)

	tr.as(call{method: get, path: "/v1/actions"}, http.StatusOK)
	k, secret, err := CreateKey(context.Background(), e.store, "busy", remediation.RoleViewer, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	tr.limiter.mu.Lock()
	tr.limiter.ids[k.ID] = true
	tr.limiter.mu.Unlock()
	tr.as(call{method: get, path: "/v1/actions", key: secret}, http.StatusTooManyRequests)
}

// unavailable tours a server without access store, verifier or enforce
// actions (501), then with a broken store (500).
func (tr *tour) unavailable() {
	b := newEnv(tr.t, func(c *Config) { c.Store = storeOnly{c.Store} })
	cl := newValidatedServer(tr.t, tr.cf, b.srv.Handler())
	do := func(c call, want int) {
		tr.t.Helper()
		c.key = testAPIKey
		cl.do(c, want)
	}
	const get, post, del = http.MethodGet, http.MethodPost, http.MethodDelete
	tenant := "/v1/tenants/" + tenantA
	do(call{method: post, path: "/v1/tenants", body: tenantCreate(tenantA)}, http.StatusCreated)
	do(call{method: del, path: tenant, header: actor}, http.StatusNotImplemented)
	do(call{method: post, path: tenant + "/verify"}, http.StatusNotImplemented)
	do(call{method: post, path: tenant + "/webhooks", body: map[string]any{"url": "https://" + hookHost}}, http.StatusNotImplemented)
	do(call{method: get, path: tenant + "/webhooks"}, http.StatusNotImplemented)
	do(call{method: del, path: tenant + "/webhooks/w-1"}, http.StatusNotImplemented)
	do(call{method: get, path: tenant + "/webhooks/w-1/deliveries"}, http.StatusNotImplemented)
	do(call{method: post, path: "/v1/keys", body: map[string]any{"name": "k", "role": "viewer"}}, http.StatusNotImplemented)
	do(call{method: get, path: "/v1/keys"}, http.StatusNotImplemented)
	do(call{method: del, path: "/v1/keys/k-1"}, http.StatusNotImplemented)
	do(call{method: get, path: "/v1/audit"}, http.StatusNotImplemented)
	do(call{method: post, path: tenant + "/remediations", body: map[string]any{"action": "enforce_mfa",
		"identities": []string{"u@contoso.com"}, "reason": "r"}}, http.StatusNotImplemented)

	if err := b.store.Close(); err != nil {
		tr.t.Fatal(err)
	}
	do(call{method: get, path: "/v1/tenants"}, http.StatusInternalServerError)
}
