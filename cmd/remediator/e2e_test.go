package main

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
)

// TestEndToEndBulkDisable drives the production shape (api and two worker
// processes on real Redis and PostgreSQL) over HTTP against the simulator.
func TestEndToEndBulkDisable(t *testing.T) {
	s := newStack(t, 2)
	tn := s.registerTenant(graphsim.TenantSpec{})

	var members []string
	for i := range 40 {
		u := tn.AddUser(graphsim.UserSpec{UserPrincipalName: fmt.Sprintf("member%02d@%s", i, tn.Domain()), AccountEnabled: true})
		members = append(members, u.ID)
	}
	guest := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "ext_fabrikam.com#EXT#@" + tn.Domain(), UserType: "Guest", AccountEnabled: true})
	disabled := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "gone@" + tn.Domain(), AccountEnabled: false})
	throttled := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "throttled@" + tn.Domain(), AccountEnabled: true})
	onprem := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "synced@" + tn.Domain(), AccountEnabled: true, OnPremisesSyncEnabled: true})
	byUPN := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "Upn.User@" + tn.Domain(), AccountEnabled: true})
	missing := "00000000-0000-4000-8000-00000000dead"
	s.sim.InjectFault(graphsim.FaultSpec{TenantID: tn.ID(), Operation: "PATCH /users/{id}", UserID: throttled.ID,
		Status: 429, RetryAfter: time.Second, Times: 1})

	identities := append([]string{}, members...)
	identities = append(identities, guest.ID, disabled.ID, throttled.ID, onprem.ID, missing, "upn.user@"+tn.Domain(), members[0])
	body := map[string]any{"action": "disable_user", "identities": identities, "reason": "risky sign-ins",
		"context": map[string]any{"scan_id": "scan-42", "finding": "impossible travel"}}
	hdr := map[string]string{"Idempotency-Key": "e2e-1", "X-Actor": "alice@contoso.com"}
	var job jobView
	if code := s.do("POST", "/v1/tenants/"+tn.ID()+"/remediations", body, hdr, &job); code != http.StatusAccepted {
		t.Fatalf("submit: %d %+v", code, job)
	}
	if job.Total != len(identities)-1 || job.Duplicates != 1 || job.Actor != "alice@contoso.com" {
		t.Fatalf("accepted job: %+v", job)
	}

	// Same key, same body: the same job, nothing new.
	var again jobView
	if code := s.do("POST", "/v1/tenants/"+tn.ID()+"/remediations", body, hdr, &again); code/100 != 2 || again.ID != job.ID {
		t.Fatalf("idempotent resubmission: %d %+v (want job %s)", code, again, job.ID)
	}
	// Same key, another body: 409.
	body2 := map[string]any{"action": "disable_user", "identities": members[:1], "reason": "other"}
	if code := s.do("POST", "/v1/tenants/"+tn.ID()+"/remediations", body2, hdr, nil); code != http.StatusConflict {
		t.Fatalf("key reuse with another body: %d, want 409", code)
	}

	final := s.waitJob(job.ID, 90*time.Second)
	want := map[string]int{"succeeded": 40 + 3 + 1, "failed": 2}
	if final.Status != "completed" || final.Counts["succeeded"] != want["succeeded"] || final.Counts["failed"] != want["failed"] ||
		final.Counts["pending"]+final.Counts["running"]+final.Counts["retrying"] != 0 {
		t.Fatalf("final job: %+v, want counts %v", final, want)
	}

	items := s.items(job.ID)
	check := func(id, status, detail, code string, attempts int) itemView {
		t.Helper()
		it, ok := items[id]
		if !ok {
			t.Fatalf("no item for %s", id)
		}
		if it.Status != status || (detail != "" && it.Detail != detail) || (attempts > 0 && it.Attempts != attempts) {
			t.Errorf("%s: got %s/%q attempts %d, want %s/%q attempts %d", id, it.Status, it.Detail, it.Attempts, status, detail, attempts)
		}
		if code != "" && (it.Error == nil || it.Error.Code != code) {
			t.Errorf("%s: error %+v, want code %s", id, it.Error, code)
		}
		if it.GraphRequestID == "" {
			t.Errorf("%s: no graph request id", id)
		}
		return it
	}
	for _, m := range members {
		check(m, "succeeded", "disabled", "", 1)
	}
	check(guest.ID, "succeeded", "disabled", "", 1)
	check(disabled.ID, "succeeded", "already disabled", "", 1)
	check(throttled.ID, "succeeded", "disabled", "", 2)
	check(onprem.ID, "failed", "", "Request_BadRequest", 1)
	check(missing, "failed", "", "Request_ResourceNotFound", 1)
	check("upn.user@"+tn.Domain(), "succeeded", "disabled", "", 1)

	// The attempt log of the throttled user shows the 429 and the retry.
	var detail itemView
	if code := s.do("GET", "/v1/remediations/"+job.ID+"/items/"+url.PathEscape(throttled.ID), nil, nil, &detail); code != 200 {
		t.Fatalf("item detail: %d", code)
	}
	saw429 := false
	for _, c := range detail.AttemptLog {
		if c.HTTPStatus == 429 && c.ErrorCode == "TooManyRequests" && c.RequestID != "" {
			saw429 = true
		}
	}
	if !saw429 || len(detail.AttemptLog) < 4 {
		t.Errorf("attempt log of the throttled user: %+v", detail.AttemptLog)
	}

	// The simulator's final state: every enabled user disabled by exactly
	// one successful PATCH; the synced user untouched.
	for _, id := range append(append([]string{}, members...), guest.ID, throttled.ID, byUPN.ID) {
		u, _ := tn.User(id)
		if u.AccountEnabled || u.PatchCount != 1 {
			t.Errorf("user %s: enabled=%v patches=%d, want disabled by one PATCH", id, u.AccountEnabled, u.PatchCount)
		}
	}
	if u, _ := tn.User(onprem.ID); !u.AccountEnabled || u.PatchCount != 0 {
		t.Errorf("on-premises user changed: %+v", u)
	}
	if u, _ := tn.User(disabled.ID); u.PatchCount != 0 {
		t.Errorf("already disabled user patched %d times", u.PatchCount)
	}

	// History: per-identity outcomes of the tenant.
	var hist struct {
		History []struct {
			Identity string `json:"identity"`
			Status   string `json:"status"`
			JobID    string `json:"job_id"`
		} `json:"history"`
	}
	if code := s.do("GET", "/v1/history?tenant_id="+tn.ID()+"&identity="+missing, nil, nil, &hist); code != 200 ||
		len(hist.History) != 1 || hist.History[0].Status != "failed" || hist.History[0].JobID != job.ID {
		t.Errorf("history of the missing user: %d %+v", code, hist)
	}

	// Only one job exists for the tenant.
	var list struct {
		Remediations []jobView `json:"remediations"`
	}
	if code := s.do("GET", "/v1/remediations?tenant_id="+tn.ID(), nil, nil, &list); code != 200 || len(list.Remediations) != 1 {
		t.Errorf("jobs of the tenant: %d %d", code, len(list.Remediations))
	}

	// No secret reached the logs.
	mustNotContain(t, "logs", s.logs.String(), tn.ClientSecret(), s.key, s.env["REMEDIATOR_ENCRYPTION_KEYS"])
}

// TestEndToEndRevokeSkipsGuests runs revoke_sessions through the stack.
func TestEndToEndRevokeSkipsGuests(t *testing.T) {
	s := newStack(t, 1)
	tn := s.registerTenant(graphsim.TenantSpec{})
	member := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "m@" + tn.Domain(), AccountEnabled: true})
	guest := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "g_x.com#EXT#@" + tn.Domain(), UserType: "Guest", AccountEnabled: true})
	var job jobView
	if code := s.do("POST", "/v1/tenants/"+tn.ID()+"/remediations", map[string]any{
		"action": "revoke_sessions", "identities": []string{member.ID, guest.ID}, "reason": "token theft"}, nil, &job); code != 202 {
		t.Fatalf("submit: %d", code)
	}
	final := s.waitJob(job.ID, 60*time.Second)
	items := s.items(job.ID)
	if final.Counts["succeeded"] != 1 || final.Counts["skipped"] != 1 ||
		items[guest.ID].Status != "skipped" || items[guest.ID].Detail != "guest user: sessions are not revoked" {
		t.Fatalf("job %+v items %+v", final, items)
	}
	if u, _ := tn.User(member.ID); u.RevokedCount != 1 {
		t.Errorf("member revoked %d times", u.RevokedCount)
	}
	if u, _ := tn.User(guest.ID); u.RevokedCount != 0 {
		t.Errorf("guest revoked %d times", u.RevokedCount)
	}
}
