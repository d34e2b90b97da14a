package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

const remPath = "/v1/tenants/" + tenantA + "/remediations"

// remBody is a valid remediation request, modified by mod.
func remBody(mod func(m map[string]any)) map[string]any {
	m := map[string]any{
		"action":     "disable_user",
		"identities": []string{"alice@contoso.com", "bob@contoso.com"},
		"reason":     "Risky sign-in INC-42",
	}
	if mod != nil {
		mod(m)
	}
	return m
}

func TestCreateRemediationInvalid(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxIdentities = 50; c.MaxBodyBytes = 64 << 10 })
	e.addTenant(tenantA)
	valid := `{"action":"disable_user","identities":["alice@contoso.com"],"reason":"r"}`
	bad25 := append(identities(25, "not an identity %d"), "ok@contoso.com")

	for _, tc := range []struct {
		name    string
		path    string
		body    any
		header  map[string]string
		chunked bool
		status  int
		code    string
		check   func(t *testing.T, ae apiError)
	}{
		{name: "malformed JSON", body: `{"action":"disable_user",`, status: 400, code: remediation.EINVALID},
		{name: "syntax error", body: `{"action" "disable_user"}`, status: 400, code: remediation.EINVALID},
		{name: "not an object", body: `["disable_user"]`, status: 400, code: remediation.EINVALID},
		{name: "null body", body: `null`, status: 400, code: remediation.EINVALID},
		{name: "empty body", body: ``, status: 400, code: remediation.EINVALID},
		{name: "trailing object", body: valid + ` {}`, status: 400, code: remediation.EINVALID},
		{name: "trailing garbage", body: valid + `x`, status: 400, code: remediation.EINVALID},
		{name: "unknown field", body: remBody(func(m map[string]any) { m["priority"] = "high" }), status: 400, code: remediation.EINVALID,
			check: func(t *testing.T, ae apiError) {
				if u, _ := ae.Error.Details["unknown_fields"].([]any); len(u) != 1 || u[0] != "priority" {
					t.Errorf("unknown_fields = %v", ae.Error.Details)
				}
			}},
		{name: "field in wrong case", body: `{"Action":"disable_user","identities":["a@b.com"],"reason":"r"}`, status: 400, code: remediation.EINVALID},
		{name: "duplicate field", body: `{"action":"disable_user","action":"revoke_sessions","identities":["a@b.com"],"reason":"r"}`, status: 400, code: remediation.EINVALID},
		{name: "identities not a list", body: remBody(func(m map[string]any) { m["identities"] = "a@b.com" }), status: 400, code: remediation.EINVALID,
			check: func(t *testing.T, ae apiError) {
				if ae.Error.Details["field"] != "identities" {
					t.Errorf("details = %v", ae.Error.Details)
				}
			}},
		{name: "identity not a string", body: remBody(func(m map[string]any) { m["identities"] = []any{"a@b.com", 7} }), status: 400, code: remediation.EINVALID},
		{name: "dry_run not a boolean", body: remBody(func(m map[string]any) { m["dry_run"] = "yes" }), status: 400, code: remediation.EINVALID},
		{name: "reason not a string", body: remBody(func(m map[string]any) { m["reason"] = 1 }), status: 400, code: remediation.EINVALID},
		{name: "wrong content type", body: valid, header: map[string]string{"Content-Type": "text/plain"}, status: 400, code: remediation.EINVALID},
		{name: "unknown action", body: remBody(func(m map[string]any) { m["action"] = "delete_user" }), status: 400, code: remediation.EINVALID,
			check: func(t *testing.T, ae apiError) {
				v, _ := ae.Error.Details["valid_actions"].([]any)
				if len(v) != len(remediation.Catalog()) {
					t.Errorf("valid_actions = %v", ae.Error.Details)
				}
			}},
		{name: "missing action", body: remBody(func(m map[string]any) { delete(m, "action") }), status: 400, code: remediation.EINVALID},
		{name: "unavailable action", body: remBody(func(m map[string]any) { m["action"] = "enforce_mfa" }), status: 501, code: remediation.ENOTIMPLEMENTED},
		{name: "empty identities", body: remBody(func(m map[string]any) { m["identities"] = []string{} }), status: 400, code: remediation.EINVALID},
		{name: "missing identities", body: remBody(func(m map[string]any) { delete(m, "identities") }), status: 400, code: remediation.EINVALID},
		{name: "too many identities", body: remBody(func(m map[string]any) { m["identities"] = identities(51, "u%d@contoso.com") }), status: 413, code: remediation.ETOOLARGE,
			check: func(t *testing.T, ae apiError) {
				if ae.Error.Details["max_identities"] != float64(50) || ae.Error.Details["count"] != float64(51) {
					t.Errorf("details = %v", ae.Error.Details)
				}
			}},
		{name: "malformed identities", body: remBody(func(m map[string]any) { m["identities"] = bad25 }), status: 400, code: remediation.EINVALID,
			check: func(t *testing.T, ae apiError) {
				list, _ := ae.Error.Details["invalid_identities"].([]any)
				if len(list) != 20 || ae.Error.Details["invalid_count"] != float64(25) {
					t.Fatalf("details = %v", ae.Error.Details)
				}
				first := list[0].(map[string]any)
				if first["index"] != float64(0) || first["value"] != "not an identity 0" {
					t.Errorf("first offender = %v", first)
				}
			}},
		{name: "one malformed identity", body: remBody(func(m map[string]any) { m["identities"] = []string{"a@b.com", "", "c@d.com"} }), status: 400, code: remediation.EINVALID,
			check: func(t *testing.T, ae apiError) {
				list, _ := ae.Error.Details["invalid_identities"].([]any)
				if len(list) != 1 || list[0].(map[string]any)["index"] != float64(1) {
					t.Errorf("details = %v", ae.Error.Details)
				}
			}},
		{name: "body too large", body: remBody(func(m map[string]any) { m["reason"] = strings.Repeat("x", 70<<10) }), status: 413, code: remediation.ETOOLARGE},
		{name: "body too large without length", chunked: true, body: remBody(func(m map[string]any) { m["reason"] = strings.Repeat("x", 70<<10) }), status: 413, code: remediation.ETOOLARGE},
		{name: "reason missing", body: remBody(func(m map[string]any) { delete(m, "reason") }), status: 400, code: remediation.EINVALID},
		{name: "reason blank", body: remBody(func(m map[string]any) { m["reason"] = "   " }), status: 400, code: remediation.EINVALID},
		{name: "reason too long", body: remBody(func(m map[string]any) { m["reason"] = strings.Repeat("é", 1001) }), status: 400, code: remediation.EINVALID},
		{name: "context not an object", body: remBody(func(m map[string]any) { m["context"] = []string{"x"} }), status: 400, code: remediation.EINVALID},
		{name: "context a string", body: remBody(func(m map[string]any) { m["context"] = "ticket" }), status: 400, code: remediation.EINVALID},
		{name: "context too large", body: remBody(func(m map[string]any) { m["context"] = map[string]string{"x": strings.Repeat("y", 17<<10)} }), status: 400, code: remediation.EINVALID},
		{name: "parameters for an action without any", body: remBody(func(m map[string]any) { m["parameters"] = map[string]any{"all": true} }), status: 400, code: remediation.EINVALID},
		{name: "parameters not an object", body: remBody(func(m map[string]any) { m["parameters"] = 3 }), status: 400, code: remediation.EINVALID},
		{name: "parameter of the wrong type", body: map[string]any{"action": "remove_group_memberships", "identities": []string{"a@b.com"}, "reason": "r",
			"parameters": map[string]any{"group_ids": "g1"}}, status: 400, code: remediation.EINVALID},
		{name: "unknown parameter", body: map[string]any{"action": "remove_group_memberships", "identities": []string{"a@b.com"}, "reason": "r",
			"parameters": map[string]any{"groups": []string{"g1"}}}, status: 400, code: remediation.EINVALID},
		{name: "single-identity action with two", body: map[string]any{"action": "remove_group_memberships", "identities": []string{"a@b.com", "c@d.com"}, "reason": "r",
			"parameters": map[string]any{"all": true}}, status: 422, code: remediation.EUNPROCESSABLE},
		{name: "idempotency key too long", body: valid, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}, status: 400, code: remediation.EINVALID},
		{name: "idempotency key not printable", body: valid, header: map[string]string{"Idempotency-Key": "k\x7f"}, status: 400, code: remediation.EINVALID},
		{name: "actor too long", body: valid, header: map[string]string{"X-Actor": strings.Repeat("a", 321)}, status: 400, code: remediation.EINVALID},
		{name: "unknown tenant", path: "/v1/tenants/" + tenantB + "/remediations", body: valid, status: 404, code: remediation.ENOTFOUND},
		{name: "malformed tenant", path: "/v1/tenants/contoso/remediations", body: valid, status: 400, code: remediation.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = remPath
			}
			w := e.do(req{Method: http.MethodPost, Path: path, Body: tc.body, Header: tc.header, Chunked: tc.chunked})
			ae := wantError(t, w, tc.status, tc.code)
			if tc.check != nil {
				tc.check(t, ae)
			}
			if n := e.jobCount(); n != 0 {
				t.Fatalf("%d jobs stored after a refused request", n)
			}
			if calls := e.disp.Calls(); len(calls) != 0 {
				t.Fatalf("dispatcher called after a refused request: %v", calls)
			}
		})
	}
	// Sanity: the same server accepts the valid body.
	wantStatus(t, e.do(req{Method: http.MethodPost, Path: remPath, Body: valid}), http.StatusAccepted)
}

func TestCreateRemediation(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	guid := "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"
	w := e.do(req{Method: http.MethodPost, Path: remPath,
		Header: map[string]string{"X-Actor": "jane@soc.example"},
		Body: map[string]any{
			"action":     "disable_user",
			"identities": []string{"Alice@Contoso.com", "alice@contoso.com", " BOB@contoso.com ", guid, strings.ToLower(guid)},
			"reason":     strings.Repeat("r", 1000),
			"context":    map[string]any{"ticket": "INC-1", "score": 97},
			"dry_run":    false,
		}})
	wantStatus(t, w, http.StatusAccepted)
	j := decode[job](t, w)
	if w.Header().Get("Location") != "/v1/remediations/"+j.ID || j.ID == "" {
		t.Errorf("Location = %q for job %q", w.Header().Get("Location"), j.ID)
	}
	if j.Total != 3 || j.DuplicatesMerged != 2 || j.Status != "queued" || j.Priority != "urgent" ||
		j.Actor != "jane@soc.example" || j.RequestedBy != "api-key:bootstrap" || j.TenantID != tenantA || j.Action != "disable_user" {
		t.Errorf("job = %+v", j)
	}
	if len(j.Counts) != len(remediation.ItemStatuses) || j.Counts[remediation.ItemPending] != 3 {
		t.Errorf("counts = %v", j.Counts)
	}
	var ctxObj map[string]any
	if err := json.Unmarshal(j.Context, &ctxObj); err != nil || ctxObj["ticket"] != "INC-1" {
		t.Errorf("context = %s", j.Context)
	}
	if j.CreatedAt == nil || j.StartedAt != nil || j.FinishedAt != nil {
		t.Errorf("times = %v %v %v", j.CreatedAt, j.StartedAt, j.FinishedAt)
	}
	if calls := e.disp.Calls(); len(calls) != 1 || calls[0] != (fanoutCall{j.ID, "urgent"}) {
		t.Errorf("dispatcher calls = %v", calls)
	}
	items := decode[struct {
		Items []struct {
			Identity string `json:"identity"`
		} `json:"items"`
	}](t, e.get("/v1/remediations/"+j.ID+"/items"))
	var got []string
	for _, it := range items.Items {
		got = append(got, it.Identity)
	}
	if want := []string{"alice@contoso.com", "bob@contoso.com", strings.ToLower(guid)}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("items = %v, want %v", got, want)
	}

	// More than ten identities is a bulk job.
	bulk := e.submit(tenantA, "revoke_sessions", identities(11, "u%d@contoso.com")...)
	if calls := e.disp.Calls(); bulk.Priority != "bulk" || calls[len(calls)-1] != (fanoutCall{bulk.ID, "bulk"}) {
		t.Errorf("bulk job priority %q, calls %v", bulk.Priority, calls)
	}
	e.assertNoSecret()
}

func TestCreateRemediationDispatcherDown(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	e.disp.startErr = errors.New("redis: connection refused")
	j := e.submit(tenantA, "disable_user", "alice@contoso.com")
	if e.jobCount() != 1 || len(e.disp.Calls()) != 1 {
		t.Fatalf("jobs %d, calls %v", e.jobCount(), e.disp.Calls())
	}
	w := e.get("/v1/remediations/" + j.ID)
	wantStatus(t, w, 200)
	if got := decode[job](t, w); got.Status != "queued" || got.Total != 1 {
		t.Errorf("stored job = %+v", got)
	}
	if !strings.Contains(e.logs.String(), `"level":"WARN"`) || !strings.Contains(e.logs.String(), j.ID) {
		t.Errorf("no warning logged: %s", e.logs.String())
	}
}

func TestCreateRemediationIdempotency(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	e.addTenant(tenantB)
	post := func(tenant, key, body string) *httptestResponse {
		w := e.do(req{Method: http.MethodPost, Path: "/v1/tenants/" + tenant + "/remediations", Body: body,
			Header: map[string]string{"Idempotency-Key": key}})
		return &httptestResponse{w.Code, w.Header().Get("Idempotent-Replayed"), w.Body.String(), w.Header().Get("Location")}
	}
	body := `{"action":"disable_user","identities":["Alice@contoso.com","bob@contoso.com"],"reason":"r","context":{"a":1,"b":[1,2]}}`
	// Same request: other spelling of an identity, key order and spacing.
	same := `{ "reason":"r", "context":{"b":[1, 2],"a":1}, "identities":["alice@contoso.com","BOB@contoso.com"], "action":"disable_user", "dry_run":false }`

	first := post(tenantA, "key-1", body)
	if first.status != http.StatusAccepted || first.replayed != "" {
		t.Fatalf("first = %+v", first)
	}
	id := jobID(t, first.body)
	for _, tc := range []struct {
		name, tenant, key, body string
		status                  int
		replayed                bool
		sameJob                 bool
		jobs                    int
	}{
		{"same key same body", tenantA, "key-1", body, 200, true, true, 1},
		{"same key equivalent body", tenantA, "key-1", same, 200, true, true, 1},
		{"same key other reason", tenantA, "key-1", strings.Replace(body, `"r"`, `"other"`, 1), 409, false, false, 1},
		{"same key other context", tenantA, "key-1", strings.Replace(body, `"a":1`, `"a":2`, 1), 409, false, false, 1},
		{"same key dry run", tenantA, "key-1", strings.Replace(body, `}}`, `},"dry_run":true}`, 1), 409, false, false, 1},
		{"same key other identities", tenantA, "key-1", strings.Replace(body, "bob", "carol", 1), 409, false, false, 1},
		{"other key same body", tenantA, "key-2", body, 202, false, false, 2},
		{"same key other tenant", tenantB, "key-1", body, 202, false, false, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(tc.tenant, tc.key, tc.body)
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tc.status, r.body)
			}
			if (r.replayed == "true") != tc.replayed {
				t.Errorf("Idempotent-Replayed = %q", r.replayed)
			}
			if tc.status == 409 && !strings.Contains(r.body, `"code":"conflict"`) {
				t.Errorf("409 body = %s", r.body)
			}
			if tc.sameJob && (jobID(t, r.body) != id || r.location != "/v1/remediations/"+id) {
				t.Errorf("replayed job %s (location %s), want %s", jobID(t, r.body), r.location, id)
			}
			if n := e.jobCount(); n != tc.jobs {
				t.Errorf("%d jobs, want %d", n, tc.jobs)
			}
			if n := len(e.disp.Calls()); n != tc.jobs {
				t.Errorf("%d fan-outs started, want %d", n, tc.jobs)
			}
		})
	}
}

type httptestResponse struct {
	status   int
	replayed string
	body     string
	location string
}

func jobID(t *testing.T, body string) string {
	t.Helper()
	var j job
	if err := json.Unmarshal([]byte(body), &j); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return j.ID
}
