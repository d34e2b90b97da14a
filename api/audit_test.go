package api

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// auditJSON is an audit entry as a client reads it.
type auditJSON struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	KeyID      string          `json:"key_id"`
	KeyName    string          `json:"key_name"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	TenantID   string          `json:"tenant_id"`
	Target     string          `json:"target"`
	Details    json.RawMessage `json:"details"`
	RemoteAddr string          `json:"remote_addr"`
	RequestID  string          `json:"request_id"`
}

type auditPage struct {
	Entries    []auditJSON `json:"entries"`
	NextCursor string      `json:"next_cursor"`
}

// adminActions performs every audited action with the admin key secret and
// returns the request id of each, by action.
func adminActions(t *testing.T, e *env, secret string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	do := func(action string, r req, status int) *auditHTTP {
		t.Helper()
		r.Header = map[string]string{"X-Actor": "jane@soc.example", "X-Request-Id": "req-" + strings.ReplaceAll(action, ".", "-")}
		w := e.as(secret, r)
		wantStatus(t, w, status)
		ids[action] = w.Header().Get("X-Request-Id")
		return &auditHTTP{body: w.Body.Bytes()}
	}
	ta := "/v1/tenants/" + tenantA
	do(auditTenantCreate, req{Method: "POST", Path: "/v1/tenants", Body: tenantBody(nil)}, 201)
	do(auditTenantSettings, req{Method: "PATCH", Path: ta, Body: map[string]any{"protected_identities": []string{breakGlass1}}}, 200)
	do(auditTenantCredentials, req{Method: "PUT", Path: ta + "/credentials", Body: map[string]any{"client_secret": testSecret + "-rotated"}}, 200)
	do(auditTenantVerify, req{Method: "POST", Path: ta + "/verify"}, 200)
	hook := do(auditWebhookCreate, req{Method: "POST", Path: ta + "/webhooks", Body: map[string]any{"url": "https://" + hookHost + "/h?token=qz-hook-secret"}}, 201)
	do(auditWebhookDelete, req{Method: "DELETE", Path: ta + "/webhooks/" + hook.field(t, "id")}, 204)
	src := e.finished("disable_user", remediation.ItemSucceeded, remediation.ItemFailed)
	do(auditJobUndo, req{Method: "POST", Path: "/v1/remediations/" + src.ID + "/undo"}, 202)
	do(auditJobRetry, req{Method: "POST", Path: "/v1/remediations/" + src.ID + "/retry"}, 202)
	do(auditJobCancel, req{Method: "POST", Path: "/v1/remediations/" + src.ID + "/cancel"}, 200)
	e.cancelAll()
	do(auditTenantDelete, req{Method: "DELETE", Path: ta}, 204)
	return ids
}

type auditHTTP struct{ body []byte }

func (a *auditHTTP) field(t *testing.T, name string) string {
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m[name].(string)
	return s
}

func TestAuditEveryAdminAction(t *testing.T) {
	e := newEnv(t, accessOpts(&fakeVerifier{}))
	w := e.post("/v1/keys", map[string]any{"name": "ops admin", "role": "admin"}, map[string]string{"X-Actor": "root@corp.example"})
	wantStatus(t, w, 201)
	admin := decode[keyJSON](t, w)
	ids := adminActions(t, e, admin.Secret)
	wantStatus(t, e.as(admin.Secret, req{Method: "DELETE", Path: "/v1/keys/" + admin.ID,
		Header: map[string]string{"X-Actor": "jane@soc.example"}}), 204)

	byAction := map[string][]*remediation.AuditEntry{}
	for _, en := range e.auditEntries() {
		byAction[en.Action] = append(byAction[en.Action], en)
		for _, secret := range []string{testSecret, admin.Secret, "token=qz-hook-secret", "qz-hook-secret"} {
			if strings.Contains(string(en.Details), secret) {
				t.Errorf("%s details hold a secret: %s", en.Action, en.Details)
			}
		}
		if en.RemoteAddr != "192.0.2.1" || en.At.IsZero() || en.RequestID == "" {
			t.Errorf("%s: remote %q at %v request %q", en.Action, en.RemoteAddr, en.At, en.RequestID)
		}
	}
	for _, a := range auditActions {
		if len(byAction[a]) == 0 {
			t.Errorf("no audit entry for %s", a)
		}
	}
	for action, reqID := range ids {
		en := byAction[action][0]
		if en.KeyID != admin.ID || en.KeyName != "ops admin" || en.Actor != "jane@soc.example" || en.RequestID != reqID ||
			en.TenantID != tenantA || en.Target == "" {
			t.Errorf("%s entry = %+v", action, en)
		}
	}
	if kc := byAction[auditKeyCreate][0]; kc.KeyID != "bootstrap" || kc.Actor != "root@corp.example" || kc.Target != admin.ID || kc.TenantID != "" {
		t.Errorf("key.create entry = %+v", kc)
	}
	if kr := byAction[auditKeyRevoke][0]; kr.Target != admin.ID || kr.KeyID != admin.ID {
		t.Errorf("key.revoke entry = %+v", kr)
	}
	var settings map[string]any
	if err := json.Unmarshal(byAction[auditTenantSettings][0].Details, &settings); err != nil ||
		!strings.Contains(string(byAction[auditTenantSettings][0].Details), breakGlass1) || settings["fields"] == nil {
		t.Errorf("settings details = %s", byAction[auditTenantSettings][0].Details)
	}
	if d := string(byAction[auditTenantCredentials][0].Details); !strings.Contains(d, `"credential_type":"secret"`) {
		t.Errorf("credentials details = %s", d)
	}
	if d := string(byAction[auditWebhookCreate][0].Details); !strings.Contains(d, hookHost) || strings.Contains(d, "qz-hook-secret") {
		t.Errorf("webhook details = %s", d)
	}
	// Refused requests write nothing.
	e.addTenant(tenantA)
	n := len(e.auditEntries())
	wantError(t, e.do(req{Method: "POST", Path: "/v1/tenants", Body: tenantBody(nil)}), 409, remediation.ECONFLICT)
	wantError(t, e.do(req{Method: "PATCH", Path: "/v1/tenants/" + tenantA, Body: map[string]any{"mfa_targeting": "x"}}), 400, remediation.EINVALID)
	if got := len(e.auditEntries()); got != n {
		t.Errorf("%d audit entries after refusals, want %d", got, n)
	}
	e.assertNoSecret()
}

func TestAuditActorHeaderValidated(t *testing.T) {
	e := newEnv(t)
	w := e.do(req{Method: "POST", Path: "/v1/tenants", Body: tenantBody(nil), Header: map[string]string{"X-Actor": "bad\x01actor"}})
	wantError(t, w, 400, remediation.EINVALID)
	wantError(t, e.get("/v1/tenants/"+tenantA), 404, remediation.ENOTFOUND)
	if n := len(e.auditEntries()); n != 0 {
		t.Errorf("%d audit entries", n)
	}
}

func TestAuditListFiltersAndScope(t *testing.T) {
	e := newEnv(t, accessOpts(&fakeVerifier{}))
	e.addTenant(tenantB)
	adminActions(t, e, testAPIKey)
	e.addTenant(tenantA) // registered again after its deletion
	scopedA := e.key(remediation.RoleAdmin, tenantA)
	list := func(secret, query string) auditPage {
		t.Helper()
		w := e.as(secret, req{Method: "GET", Path: "/v1/audit" + query})
		wantStatus(t, w, 200)
		return decode[auditPage](t, w)
	}
	all := list(testAPIKey, "")
	if len(all.Entries) < 12 || all.NextCursor != "" {
		t.Fatalf("%d entries, cursor %q", len(all.Entries), all.NextCursor)
	}
	for i := 1; i < len(all.Entries); i++ {
		if all.Entries[i].ID >= all.Entries[i-1].ID {
			t.Fatalf("not newest first: %d after %d", all.Entries[i].ID, all.Entries[i-1].ID)
		}
	}
	if got := list(testAPIKey, "?action=job.cancel").Entries; len(got) != 1 || got[0].Action != "job.cancel" {
		t.Errorf("action filter: %+v", got)
	}
	if got := list(testAPIKey, "?tenant_id="+tenantB).Entries; len(got) != 1 || got[0].Action != "tenant.create" {
		t.Errorf("tenant filter: %+v", got)
	}
	if got := list(testAPIKey, "?key_id=bootstrap").Entries; len(got) != len(all.Entries) {
		t.Errorf("key filter: %d entries", len(got))
	}
	if got := list(testAPIKey, "?key_id=other").Entries; len(got) != 0 {
		t.Errorf("unknown key filter: %d entries", len(got))
	}
	future := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	if got := list(testAPIKey, "?since="+future).Entries; len(got) != 0 {
		t.Errorf("since filter: %d entries", len(got))
	}
	if got := list(testAPIKey, "?until="+future).Entries; len(got) != len(all.Entries) {
		t.Errorf("until filter: %d entries", len(got))
	}
	// Paging.
	var paged []auditJSON
	for cursor, n := "", 0; ; n++ {
		q := "?limit=5"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		p := list(testAPIKey, q)
		paged = append(paged, p.Entries...)
		if cursor = p.NextCursor; cursor == "" || n > 10 {
			break
		}
	}
	if len(paged) != len(all.Entries) {
		t.Errorf("paged %d entries, want %d", len(paged), len(all.Entries))
	}
	// A key of tenant A sees tenant A's entries only: no key management,
	// nothing of B, and an empty list (not an error) when it asks for B.
	scoped := list(scopedA, "")
	if len(scoped.Entries) == 0 {
		t.Fatal("scoped admin sees nothing")
	}
	for _, en := range scoped.Entries {
		if en.TenantID != tenantA {
			t.Errorf("scoped admin sees %+v", en)
		}
	}
	if got := list(scopedA, "?tenant_id="+tenantB).Entries; len(got) != 0 {
		t.Errorf("scoped admin asking for B: %+v", got)
	}
	for _, q := range []string{"?action=tenant.explode", "?since=yesterday", "?limit=0", "?key_id=%01", "?nope=1",
		"?since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z", "?cursor=bogus"} {
		wantError(t, e.get("/v1/audit"+q), 400, remediation.EINVALID)
	}
}
