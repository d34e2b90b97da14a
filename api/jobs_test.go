package api

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// progress moves items of a job through the store as a worker would.
func (e *env) progress(jobID string, seq int, to remediation.ItemStatus, detail string, ierr *remediation.ItemError) {
	e.t.Helper()
	ctx := context.Background()
	if _, ok, err := e.store.TransitionItem(ctx, remediation.Transition{JobID: jobID, Seq: seq,
		From: []remediation.ItemStatus{remediation.ItemPending}, To: remediation.ItemRunning, CountAttempt: true}); err != nil || !ok {
		e.t.Fatalf("to running: %v %v", ok, err)
	}
	if _, ok, err := e.store.TransitionItem(ctx, remediation.Transition{JobID: jobID, Seq: seq,
		From: []remediation.ItemStatus{remediation.ItemRunning}, To: to, Detail: detail, Error: ierr,
		GraphRequestID: "req-" + detail}); err != nil || !ok {
		e.t.Fatalf("to %s: %v %v", to, ok, err)
	}
}

type itemList struct {
	Items []struct {
		Identity       string                 `json:"identity"`
		Status         string                 `json:"status"`
		Detail         string                 `json:"detail"`
		Error          *remediation.ItemError `json:"error"`
		Attempts       int                    `json:"attempts"`
		GraphRequestID string                 `json:"graph_request_id"`
		UpdatedAt      string                 `json:"updated_at"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func TestJobItemsAndItem(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	j := e.submit(tenantA, "disable_user", "alice@contoso.com", "bob@contoso.com", "carol@contoso.com")
	e.progress(j.ID, 0, remediation.ItemSucceeded, "disabled", nil)
	e.progress(j.ID, 1, remediation.ItemFailed, "refused", &remediation.ItemError{Code: "Authorization_RequestDenied", Message: "Insufficient privileges."})
	if err := e.store.AppendCalls(context.Background(), j.ID, 0, []remediation.Call{
		{Time: time.Now().UTC(), Attempt: 1, Operation: "GetUser", HTTPStatus: 200, RequestID: "r-1", Duration: 12 * time.Millisecond, DurationMS: 12},
		{Time: time.Now().UTC(), Attempt: 1, Operation: "SetAccountEnabled", HTTPStatus: 204, RequestID: "r-2", DurationMS: 30},
	}); err != nil {
		t.Fatalf("append calls: %v", err)
	}

	// The job.
	w := e.get("/v1/remediations/" + j.ID)
	wantStatus(t, w, 200)
	got := decode[job](t, w)
	if got.Status != "running" || got.StartedAt == nil || got.FinishedAt != nil {
		t.Errorf("job = %+v", got)
	}
	want := map[remediation.ItemStatus]int{"pending": 1, "running": 0, "retrying": 0, "succeeded": 1, "skipped": 0, "failed": 1, "canceled": 0}
	if len(got.Counts) != len(want) {
		t.Errorf("counts = %v", got.Counts)
	}
	for k, v := range want {
		if got.Counts[k] != v {
			t.Errorf("counts[%s] = %d, want %d", k, got.Counts[k], v)
		}
	}
	wantError(t, e.get("/v1/remediations/01900000-0000-7000-8000-000000000000"), 404, remediation.ENOTFOUND)

	// Items, paged.
	w = e.get("/v1/remediations/" + j.ID + "/items?limit=2")
	wantStatus(t, w, 200)
	page := decode[itemList](t, w)
	if len(page.Items) != 2 || page.NextCursor == "" || page.Items[0].Identity != "alice@contoso.com" {
		t.Fatalf("page 1 = %+v", page)
	}
	if it := page.Items[0]; it.Status != "succeeded" || it.Attempts != 1 || it.GraphRequestID != "req-disabled" || it.Error != nil || it.UpdatedAt == "" {
		t.Errorf("item 0 = %+v", it)
	}
	if it := page.Items[1]; it.Status != "failed" || it.Error == nil || it.Error.Code != "Authorization_RequestDenied" {
		t.Errorf("item 1 = %+v", it)
	}
	w = e.get("/v1/remediations/" + j.ID + "/items?limit=2&cursor=" + url.QueryEscape(page.NextCursor))
	page2 := decode[itemList](t, w)
	if len(page2.Items) != 1 || page2.Items[0].Identity != "carol@contoso.com" || page2.NextCursor != "" {
		t.Errorf("page 2 = %+v", page2)
	}
	for status, n := range map[string]int{"failed": 1, "pending": 1, "succeeded": 1, "retrying": 0} {
		page := decode[itemList](t, e.get("/v1/remediations/"+j.ID+"/items?status="+status))
		if len(page.Items) != n {
			t.Errorf("status=%s: %d items, want %d", status, len(page.Items), n)
		}
	}

	for _, tc := range []struct {
		name, path string
		status     int
		code       string
	}{
		{"bad status", "/items?status=done", 400, remediation.EINVALID},
		{"limit zero", "/items?limit=0", 400, remediation.EINVALID},
		{"limit not a number", "/items?limit=ten", 400, remediation.EINVALID},
		{"limit too big", "/items?limit=1001", 400, remediation.EINVALID},
		{"unknown parameter", "/items?state=failed", 400, remediation.EINVALID},
		{"repeated parameter", "/items?status=failed&status=pending", 400, remediation.EINVALID},
		{"bad cursor", "/items?cursor=zzz", 400, remediation.EINVALID},
		{"unknown identity", "/items/dave@contoso.com", 404, remediation.ENOTFOUND},
		{"malformed identity", "/items/not%20an%20identity", 400, remediation.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.get("/v1/remediations/"+j.ID+tc.path), tc.status, tc.code)
		})
	}
	wantError(t, e.get("/v1/remediations/nope/items"), 404, remediation.ENOTFOUND)

	// One item with its attempt log; the identity is URL-decoded and normalized.
	for _, path := range []string{"Alice%40Contoso.com", "alice@contoso.com", "ALICE@CONTOSO.COM"} {
		w = e.get("/v1/remediations/" + j.ID + "/items/" + path)
		wantStatus(t, w, 200)
		item := decode[map[string]any](t, w)
		if item["identity"] != "alice@contoso.com" || item["status"] != "succeeded" {
			t.Errorf("%s: item = %v", path, item)
		}
		log, _ := item["attempt_log"].([]any)
		if len(log) != 2 {
			t.Fatalf("%s: attempt_log = %v", path, item["attempt_log"])
		}
		first := log[0].(map[string]any)
		for _, k := range []string{"time", "operation", "http_status", "error_code", "request_id", "duration_ms"} {
			if _, ok := first[k]; !ok {
				t.Errorf("attempt_log entry without %s: %v", k, first)
			}
		}
		if first["operation"] != "GetUser" || first["http_status"] != float64(200) || first["request_id"] != "r-1" || first["duration_ms"] != float64(12) {
			t.Errorf("attempt_log[0] = %v", first)
		}
	}
	w = e.get("/v1/remediations/" + j.ID + "/items/carol@contoso.com")
	if item := decode[map[string]any](t, w); item["attempt_log"] == nil {
		t.Errorf("attempt_log is null for an item without calls: %s", w.Body.String())
	}
}

func TestRemediationList(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	e.addTenant(tenantB)
	j1 := e.submit(tenantA, "disable_user", "a@contoso.com")
	j2 := e.submit(tenantA, "revoke_sessions", "a@contoso.com")
	j3 := e.submit(tenantB, "disable_user", "b@fabrikam.com")
	e.progress(j3.ID, 0, remediation.ItemSucceeded, "disabled", nil) // j3 completes

	type list struct {
		Remediations []job  `json:"remediations"`
		NextCursor   string `json:"next_cursor"`
	}
	ids := func(l list) string {
		var s []string
		for _, j := range l.Remediations {
			s = append(s, j.ID)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"all newest first", "", []string{j3.ID, j2.ID, j1.ID}},
		{"tenant", "tenant_id=" + tenantA, []string{j2.ID, j1.ID}},
		{"tenant upper case", "tenant_id=" + strings.ToUpper(tenantB), []string{j3.ID}},
		{"action", "action=disable_user", []string{j3.ID, j1.ID}},
		{"status completed", "status=completed", []string{j3.ID}},
		{"status queued", "status=queued", []string{j2.ID, j1.ID}},
		{"combined", "tenant_id=" + tenantA + "&action=revoke_sessions&status=queued", []string{j2.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.get("/v1/remediations?" + tc.query)
			wantStatus(t, w, 200)
			if got := ids(decode[list](t, w)); got != strings.Join(tc.want, ",") {
				t.Errorf("got %s, want %s", got, strings.Join(tc.want, ","))
			}
		})
	}
	// Pagination walks every job once.
	var seen []string
	cursor := ""
	for range 5 {
		l := decode[list](t, e.get("/v1/remediations?limit=1&cursor="+url.QueryEscape(cursor)))
		seen = append(seen, ids(l))
		if cursor = l.NextCursor; cursor == "" {
			break
		}
	}
	if strings.Join(seen, ",") != strings.Join([]string{j3.ID, j2.ID, j1.ID}, ",") {
		t.Errorf("pages = %v", seen)
	}
	if l := decode[list](t, e.get("/v1/remediations?status=queued")); l.Remediations[0].Counts == nil {
		t.Error("listed job without counts")
	}
	for _, q := range []string{"tenant_id=contoso", "action=nuke", "status=done", "status=pending", "limit=-1", "cursor=%21%21", "page=2"} {
		t.Run("bad "+q, func(t *testing.T) {
			wantError(t, e.get("/v1/remediations?"+q), 400, remediation.EINVALID)
		})
	}
}

func TestHistory(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	e.addTenant(tenantB)
	start := time.Now().UTC().Add(-time.Second)
	j1 := e.submit(tenantA, "disable_user", "alice@contoso.com", "bob@contoso.com")
	e.progress(j1.ID, 0, remediation.ItemSucceeded, "disabled", nil)
	e.progress(j1.ID, 1, remediation.ItemFailed, "refused", &remediation.ItemError{Code: "x", Message: "y"})
	j2 := e.submit(tenantB, "revoke_sessions", "alice@contoso.com")
	e.progress(j2.ID, 0, remediation.ItemSkipped, "guest", nil)

	type outcome struct {
		JobID    string `json:"job_id"`
		TenantID string `json:"tenant_id"`
		Identity string `json:"identity"`
		Status   string `json:"status"`
		Reason   string `json:"reason"`
	}
	type hist struct {
		History    []outcome `json:"history"`
		NextCursor string    `json:"next_cursor"`
	}
	later := url.QueryEscape(time.Now().UTC().Add(time.Hour).Format(time.RFC3339))
	for _, tc := range []struct {
		name, query string
		want        []string // job:identity:status, newest first
	}{
		{"all", "", []string{j2.ID + ":alice@contoso.com:skipped", j1.ID + ":bob@contoso.com:failed", j1.ID + ":alice@contoso.com:succeeded"}},
		{"identity normalized", "identity=ALICE%40contoso.com", []string{j2.ID + ":alice@contoso.com:skipped", j1.ID + ":alice@contoso.com:succeeded"}},
		{"tenant", "tenant_id=" + tenantA, []string{j1.ID + ":bob@contoso.com:failed", j1.ID + ":alice@contoso.com:succeeded"}},
		{"action", "action=revoke_sessions", []string{j2.ID + ":alice@contoso.com:skipped"}},
		{"status", "status=failed", []string{j1.ID + ":bob@contoso.com:failed"}},
		{"since", "since=" + url.QueryEscape(start.Format(time.RFC3339Nano)), []string{j2.ID + ":alice@contoso.com:skipped", j1.ID + ":bob@contoso.com:failed", j1.ID + ":alice@contoso.com:succeeded"}},
		{"since later", "since=" + later, nil},
		{"until earlier", "until=" + url.QueryEscape(start.Format(time.RFC3339)), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.get("/v1/history?" + tc.query)
			wantStatus(t, w, 200)
			h := decode[hist](t, w)
			if h.History == nil {
				t.Fatalf("history is null: %s", w.Body.String())
			}
			var got []string
			for _, o := range h.History {
				got = append(got, o.JobID+":"+o.Identity+":"+o.Status)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	h := decode[hist](t, e.get("/v1/history?limit=2"))
	if len(h.History) != 2 || h.NextCursor == "" {
		t.Fatalf("page 1 = %+v", h)
	}
	h = decode[hist](t, e.get("/v1/history?limit=2&cursor="+url.QueryEscape(h.NextCursor)))
	if len(h.History) != 1 || h.History[0].Identity != "alice@contoso.com" || h.History[0].Reason != "test" || h.NextCursor != "" {
		t.Errorf("page 2 = %+v", h)
	}
	for _, q := range []string{"tenant_id=x", "identity=not+valid", "action=nuke", "status=pending", "status=nope",
		"since=yesterday", "until=2025-13-01T00:00:00Z", "since=2025-02-01T00:00:00Z&until=2025-01-01T00:00:00Z",
		"limit=abc", "cursor=%21", "user=a"} {
		t.Run("bad "+q, func(t *testing.T) {
			wantError(t, e.get("/v1/history?"+q), 400, remediation.EINVALID)
		})
	}
}
