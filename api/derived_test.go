package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

// finish drives item seq of a job to status to as a worker would, saving
// prior (when not empty) as the item's prior state.
func (e *env) finish(jobID string, seq int, to remediation.ItemStatus, prior string) {
	e.t.Helper()
	ctx := context.Background()
	if _, ok, err := e.store.TransitionItem(ctx, remediation.Transition{JobID: jobID, Seq: seq,
		From: []remediation.ItemStatus{remediation.ItemPending}, To: remediation.ItemRunning, CountAttempt: true}); err != nil || !ok {
		e.t.Fatalf("item %d of %s to running: %v %v", seq, jobID, ok, err)
	}
	tr := remediation.Transition{JobID: jobID, Seq: seq, From: []remediation.ItemStatus{remediation.ItemRunning}, To: to, Detail: string(to)}
	if prior != "" {
		tr.PriorState = json.RawMessage(prior)
	}
	if to == remediation.ItemFailed {
		tr.Error = &remediation.ItemError{Code: "Request_ResourceNotFound", Message: "gone"}
	}
	if _, ok, err := e.store.TransitionItem(ctx, tr); err != nil || !ok {
		e.t.Fatalf("item %d of %s to %s: %v %v", seq, jobID, to, ok, err)
	}
}

// finished submits a job and drives its items to the given statuses.
func (e *env) finished(action string, statuses ...remediation.ItemStatus) job {
	e.t.Helper()
	j := e.submit(tenantA, action, identities(len(statuses), "user%d@contoso.com")...)
	for i, st := range statuses {
		e.finish(j.ID, i, st, `{"accountEnabled":true,"n":`+string(rune('0'+i))+`}`)
	}
	return j
}

func TestUndo(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	src := e.finished("disable_user", remediation.ItemSucceeded, remediation.ItemFailed, remediation.ItemSkipped, remediation.ItemSucceeded)

	w := e.post("/v1/remediations/"+src.ID+"/undo", nil, map[string]string{"X-Actor": "jane@soc.example"})
	wantStatus(t, w, http.StatusAccepted)
	u := decode[job](t, w)
	if u.UndoOf == nil || *u.UndoOf != src.ID || u.RetryOf != nil || u.Action != "disable_user" || u.TenantID != tenantA ||
		u.Total != 2 || u.Status != "queued" || u.Reason != "undo of "+src.ID || u.Actor != "jane@soc.example" ||
		u.Priority != "urgent" || u.DryRun || u.ID == src.ID {
		t.Errorf("undo job = %+v", u)
	}
	if loc := w.Header().Get("Location"); loc != "/v1/remediations/"+u.ID {
		t.Errorf("Location = %q", loc)
	}
	if calls := e.disp.Calls(); calls[len(calls)-1] != (fanoutCall{u.ID, "urgent"}) {
		t.Errorf("dispatcher calls = %v", calls)
	}
	// One item per succeeded item, restoring what it saved.
	items := e.storedItems(u.ID)
	if len(items) != 2 || items[0].Identity != "user0@contoso.com" || items[1].Identity != "user3@contoso.com" {
		t.Fatalf("undo items = %+v", items)
	}
	if string(items[0].UndoState) != `{"accountEnabled":true,"n":0}` || string(items[1].UndoState) != `{"accountEnabled":true,"n":3}` ||
		items[0].Status != remediation.ItemPending {
		t.Errorf("undo states = %s, %s", items[0].UndoState, items[1].UndoState)
	}
	if got := decode[job](t, e.get("/v1/remediations/"+u.ID)); got.UndoOf == nil || *got.UndoOf != src.ID {
		t.Errorf("GET undo job = %+v", got)
	}

	// A dry-run undo with a reason; a replay of its key; the key with another body.
	hdr := map[string]string{"Idempotency-Key": "undo-1"}
	body := map[string]any{"reason": "  false positive  ", "dry_run": true}
	w = e.post("/v1/remediations/"+src.ID+"/undo", body, hdr)
	wantStatus(t, w, http.StatusAccepted)
	d := decode[job](t, w)
	if !d.DryRun || d.Reason != "false positive" || d.UndoOf == nil || *d.UndoOf != src.ID {
		t.Errorf("dry-run undo = %+v", d)
	}
	jobs, calls := e.jobCount(), len(e.disp.Calls())
	w = e.post("/v1/remediations/"+src.ID+"/undo", body, hdr)
	wantStatus(t, w, http.StatusOK)
	if w.Header().Get("Idempotent-Replayed") != "true" || decode[job](t, w).ID != d.ID {
		t.Errorf("replay = %s %s", w.Header(), w.Body.String())
	}
	for _, other := range []any{map[string]any{"reason": "false positive"}, map[string]any{"reason": "other", "dry_run": true}, nil} {
		wantError(t, e.post("/v1/remediations/"+src.ID+"/undo", other, hdr), 409, remediation.ECONFLICT)
	}
	e.unchanged(jobs, calls)
}

func TestUndoRefused(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	done := e.finished("disable_user", remediation.ItemSucceeded)
	undo := decode[job](t, e.post("/v1/remediations/"+done.ID+"/undo", nil, nil))
	e.finish(undo.ID, 0, remediation.ItemFailed, "")
	retryOfUndo := decode[job](t, e.post("/v1/remediations/"+undo.ID+"/retry", nil, nil))
	e.finish(retryOfUndo.ID, 0, remediation.ItemSucceeded, "")

	dry := decode[job](t, e.post(remPath, map[string]any{"action": "disable_user", "identities": []string{"a@contoso.com"}, "reason": "r", "dry_run": true}, nil))
	e.finish(dry.ID, 0, remediation.ItemSucceeded, "")
	queued := e.submit(tenantA, "disable_user", "q@contoso.com")
	running := e.submit(tenantA, "disable_user", "r@contoso.com", "s@contoso.com")
	e.finish(running.ID, 0, remediation.ItemSucceeded, "{}")
	revoked := e.finished("revoke_sessions", remediation.ItemSucceeded)
	allFailed := e.finished("disable_user", remediation.ItemFailed, remediation.ItemSkipped)
	// A finished job of an action this server does not run.
	mfa := &remediation.Job{ID: "01900000-0000-7000-8000-0000000000aa", TenantID: tenantA, Action: remediation.ActionEnforceMFA,
		Status: remediation.JobQueued, Reason: "r", Priority: "urgent"}
	if _, _, err := e.store.CreateJob(context.Background(), mfa, []string{"m@contoso.com"}); err != nil {
		t.Fatal(err)
	}
	e.finish(mfa.ID, 0, remediation.ItemSucceeded, "{}")
	// An Idempotency-Key already used by a remediation of the tenant.
	wantStatus(t, e.post(remPath, map[string]any{"action": "disable_user", "identities": []string{"k@contoso.com"}, "reason": "r"},
		map[string]string{"Idempotency-Key": "used"}), http.StatusAccepted)

	for _, tc := range []struct {
		name   string
		id     string
		body   any
		header map[string]string
		status int
		code   string
		want   string
	}{
		{"unknown job", "01900000-0000-7000-8000-000000000000", nil, nil, 404, remediation.ENOTFOUND, "does not exist"},
		{"undo of an undo", undo.ID, nil, nil, 422, remediation.EUNPROCESSABLE, "undo of an undo is refused"},
		{"undo of a retried undo", retryOfUndo.ID, nil, nil, 422, remediation.EUNPROCESSABLE, "undo of an undo is refused"},
		{"dry run", dry.ID, nil, nil, 422, remediation.EUNPROCESSABLE, "dry run"},
		{"queued", queued.ID, nil, nil, 409, remediation.ECONFLICT, "is queued"},
		{"running", running.ID, nil, nil, 409, remediation.ECONFLICT, "is running"},
		{"revoked sessions", revoked.ID, nil, nil, 422, remediation.EUNPROCESSABLE, "revoked sessions cannot be undone"},
		{"nothing succeeded", allFailed.ID, nil, nil, 422, remediation.EUNPROCESSABLE, "no succeeded item"},
		{"action not available", mfa.ID, nil, nil, 501, remediation.ENOTIMPLEMENTED, "not available"},
		{"unknown field", done.ID, map[string]any{"reason": "x", "priority": "bulk"}, nil, 400, remediation.EINVALID, "Unknown field"},
		{"reason not a string", done.ID, map[string]any{"reason": 1}, nil, 400, remediation.EINVALID, "reason"},
		{"reason too long", done.ID, map[string]any{"reason": strings.Repeat("r", 1001)}, nil, 400, remediation.EINVALID, "at most 1000"},
		{"malformed JSON", done.ID, `{"reason":`, nil, 400, remediation.EINVALID, "Malformed"},
		{"not an object", done.ID, `[]`, nil, 400, remediation.EINVALID, "JSON object"},
		{"bad key", done.ID, nil, map[string]string{"Idempotency-Key": "k\x01"}, 400, remediation.EINVALID, "Idempotency-Key"},
		{"key used by another request", done.ID, nil, map[string]string{"Idempotency-Key": "used"}, 409, remediation.ECONFLICT, "Idempotency-Key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jobs, calls := e.jobCount(), len(e.disp.Calls())
			ae := wantError(t, e.post("/v1/remediations/"+tc.id+"/undo", tc.body, tc.header), tc.status, tc.code)
			if !strings.Contains(ae.Error.Message, tc.want) {
				t.Errorf("message %q does not contain %q", ae.Error.Message, tc.want)
			}
			e.unchanged(jobs, calls)
		})
	}
	wantError(t, e.get("/v1/remediations/"+done.ID+"/undo"), 405, codeMethodNotAllowed)
}

func TestRetry(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	w := e.post(remPath, map[string]any{"action": "disable_user", "identities": identities(3, "u%d@contoso.com"), "reason": "INC-7",
		"context": map[string]any{"ticket": "INC-7"}, "confirm_admin_targets": true}, nil)
	src := decode[job](t, w)
	e.finish(src.ID, 0, remediation.ItemSucceeded, "{}")
	e.finish(src.ID, 1, remediation.ItemFailed, "")
	e.finish(src.ID, 2, remediation.ItemFailed, "")

	hdr := map[string]string{"Idempotency-Key": "retry-1", "X-Actor": "bob"}
	w = e.post("/v1/remediations/"+src.ID+"/retry", nil, hdr)
	wantStatus(t, w, http.StatusAccepted)
	r := decode[job](t, w)
	if r.RetryOf == nil || *r.RetryOf != src.ID || r.UndoOf != nil || r.Total != 2 || !r.ConfirmAdmin || r.DryRun ||
		r.Reason != "retry of "+src.ID || r.Actor != "bob" || string(r.Context) != `{"ticket":"INC-7"}` || r.Action != "disable_user" {
		t.Errorf("retry job = %+v", r)
	}
	if items := e.storedItems(r.ID); len(items) != 2 || items[0].Identity != "u1@contoso.com" || items[1].Identity != "u2@contoso.com" {
		t.Errorf("retry items = %+v", items)
	}
	if calls := e.disp.Calls(); calls[len(calls)-1] != (fanoutCall{r.ID, "urgent"}) {
		t.Errorf("dispatcher calls = %v", calls)
	}
	jobs, calls := e.jobCount(), len(e.disp.Calls())
	w = e.post("/v1/remediations/"+src.ID+"/retry", nil, hdr)
	wantStatus(t, w, http.StatusOK)
	if w.Header().Get("Idempotent-Replayed") != "true" || decode[job](t, w).ID != r.ID {
		t.Errorf("replay = %s", w.Body.String())
	}
	wantError(t, e.post("/v1/remediations/"+src.ID+"/retry", map[string]any{"reason": "again"}, hdr), 409, remediation.ECONFLICT)
	e.unchanged(jobs, calls)

	// A retry of an undo is an undo of the same job, restoring the same state.
	orig := e.finished("disable_user", remediation.ItemSucceeded)
	undo := decode[job](t, e.post("/v1/remediations/"+orig.ID+"/undo", nil, nil))
	e.finish(undo.ID, 0, remediation.ItemFailed, "")
	w = e.post("/v1/remediations/"+undo.ID+"/retry", map[string]any{"reason": "throttled"}, nil)
	wantStatus(t, w, http.StatusAccepted)
	ru := decode[job](t, w)
	if ru.UndoOf == nil || *ru.UndoOf != orig.ID || ru.RetryOf == nil || *ru.RetryOf != undo.ID || ru.Reason != "throttled" {
		t.Errorf("retry of undo = %+v", ru)
	}
	if items := e.storedItems(ru.ID); len(items) != 1 || string(items[0].UndoState) != `{"accountEnabled":true,"n":0}` {
		t.Errorf("retry-of-undo items = %+v", items)
	}

	// A retry of a dry run stays a dry run.
	dry := decode[job](t, e.post(remPath, map[string]any{"action": "disable_user", "identities": []string{"d@contoso.com"}, "reason": "r", "dry_run": true}, nil))
	e.finish(dry.ID, 0, remediation.ItemFailed, "")
	if rd := decode[job](t, e.post("/v1/remediations/"+dry.ID+"/retry", nil, nil)); !rd.DryRun || rd.RetryOf == nil {
		t.Errorf("retry of a dry run = %+v", rd)
	}
}

func TestRetryRefused(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	queued := e.submit(tenantA, "disable_user", "q@contoso.com")
	running := e.submit(tenantA, "revoke_sessions", "r@contoso.com", "s@contoso.com")
	e.finish(running.ID, 0, remediation.ItemFailed, "")
	noneFailed := e.finished("disable_user", remediation.ItemSucceeded, remediation.ItemSkipped)
	for _, tc := range []struct {
		name   string
		id     string
		body   any
		status int
		code   string
		want   string
	}{
		{"unknown job", "nope", nil, 404, remediation.ENOTFOUND, "does not exist"},
		{"queued", queued.ID, nil, 409, remediation.ECONFLICT, "is queued"},
		{"running", running.ID, nil, 409, remediation.ECONFLICT, "is running"},
		{"nothing failed", noneFailed.ID, nil, 422, remediation.EUNPROCESSABLE, "no failed item"},
		{"dry_run is not a retry field", noneFailed.ID, map[string]any{"dry_run": true}, 400, remediation.EINVALID, "dry_run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jobs, calls := e.jobCount(), len(e.disp.Calls())
			ae := wantError(t, e.post("/v1/remediations/"+tc.id+"/retry", tc.body, nil), tc.status, tc.code)
			if !strings.Contains(ae.Error.Message, tc.want) {
				t.Errorf("message %q does not contain %q", ae.Error.Message, tc.want)
			}
			e.unchanged(jobs, calls)
		})
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	cancel := func(id string, body any) job {
		t.Helper()
		w := e.post("/v1/remediations/"+id+"/cancel", body, nil)
		wantStatus(t, w, http.StatusOK)
		return decode[job](t, w)
	}

	// One item running, two pending: the pending ones are canceled at once,
	// the running one finishes, then the job ends canceled.
	j := e.submit(tenantA, "disable_user", identities(3, "u%d@contoso.com")...)
	if _, ok, err := e.store.TransitionItem(context.Background(), remediation.Transition{JobID: j.ID, Seq: 0,
		From: []remediation.ItemStatus{remediation.ItemPending}, To: remediation.ItemRunning}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	got := cancel(j.ID, nil)
	if got.Status != "running" || got.Counts[remediation.ItemCanceled] != 2 || got.Counts[remediation.ItemRunning] != 1 || got.FinishedAt != nil {
		t.Errorf("after cancel = %+v", got)
	}
	if _, ok, err := e.store.TransitionItem(context.Background(), remediation.Transition{JobID: j.ID, Seq: 0,
		From: []remediation.ItemStatus{remediation.ItemRunning}, To: remediation.ItemSucceeded}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if got := decode[job](t, e.get("/v1/remediations/"+j.ID)); got.Status != "canceled" || got.FinishedAt == nil || got.Counts[remediation.ItemSucceeded] != 1 {
		t.Errorf("after the running item = %+v", got)
	}
	// Canceling again changes nothing.
	if again := cancel(j.ID, map[string]any{}); again.Status != "canceled" || again.Counts[remediation.ItemCanceled] != 2 {
		t.Errorf("second cancel = %+v", again)
	}

	if big := e.submit(tenantA, "disable_user", "fresh@contoso.com"); big.CancelRequested {
		t.Error("a new job shows cancel_requested")
	}

	// Nothing running: canceled at once.
	p := e.submit(tenantA, "disable_user", "p@contoso.com", "q@contoso.com")
	if got := cancel(p.ID, nil); got.Status != "canceled" || got.Counts[remediation.ItemCanceled] != 2 || got.FinishedAt == nil {
		t.Errorf("cancel of a queued job = %+v", got)
	}
	// A completed job stays completed.
	c := e.finished("disable_user", remediation.ItemSucceeded)
	if got := cancel(c.ID, nil); got.Status != "completed" || got.Counts[remediation.ItemSucceeded] != 1 || got.Counts[remediation.ItemCanceled] != 0 {
		t.Errorf("cancel of a completed job = %+v", got)
	}

	// Refusals change nothing.
	q := e.submit(tenantA, "disable_user", "z@contoso.com")
	wantError(t, e.post("/v1/remediations/01900000-0000-7000-8000-000000000000/cancel", nil, nil), 404, remediation.ENOTFOUND)
	wantError(t, e.post("/v1/remediations/"+q.ID+"/cancel", map[string]any{"force": true}, nil), 400, remediation.EINVALID)
	wantError(t, e.post("/v1/remediations/"+q.ID+"/cancel", `nope`, nil), 400, remediation.EINVALID)
	if st := e.storedJob(q.ID); st.Status != remediation.JobQueued || st.CancelRequested || st.Counts[remediation.ItemPending] != 1 {
		t.Errorf("job after refused cancels = %+v", st)
	}

	// A job larger than a cancel window: the rows of the first window are
	// canceled before the answer, and the job's fan-out task is started
	// again to cancel the rest. Readers see every item not started
	// canceled at once: the answer, the job, its items.
	n := remediation.CancelWindow + 5
	big := e.submit(tenantA, "revoke_sessions", identities(n, "big%d@contoso.com")...)
	before := len(e.disp.calls)
	got = cancel(big.ID, nil)
	if got.Status != "queued" || !got.CancelRequested || got.Counts[remediation.ItemCanceled] != n ||
		got.Counts[remediation.ItemPending] != 0 {
		t.Errorf("cancel of a job of %d items = %+v; want every item canceled", n, got)
	}
	if st := e.storedJob(big.ID); st.Counts[remediation.ItemPending] != 5 || st.Counts[remediation.ItemCanceled] != remediation.CancelWindow {
		t.Errorf("stored counts after the cancel = %v; want the first window's rows canceled, 5 left to the fan-out", st.Counts)
	}
	if got := decode[job](t, e.get("/v1/remediations/"+big.ID)); got.Counts[remediation.ItemCanceled] != n || got.Counts[remediation.ItemPending] != 0 {
		t.Errorf("GET of the canceling job: counts %v", got.Counts)
	}
	for _, filter := range []string{"", "status=canceled&"} {
		seen := 0
		for cur := ""; ; {
			page := decode[itemList](t, e.get("/v1/remediations/"+big.ID+"/items?"+filter+"limit=1000&cursor="+url.QueryEscape(cur)))
			for _, x := range page.Items {
				if x.Status != "canceled" || x.Detail != remediation.CanceledDetail {
					t.Fatalf("items?%s lists %+v", filter, x)
				}
			}
			seen += len(page.Items)
			if cur = page.NextCursor; cur == "" {
				break
			}
		}
		if seen != n {
			t.Errorf("items?%s lists %d items, want %d", filter, seen, n)
		}
	}
	if p := decode[itemList](t, e.get("/v1/remediations/"+big.ID+"/items?status=pending")); len(p.Items) != 0 || p.Items == nil {
		t.Errorf("status=pending lists %+v for the canceling job; want []", p.Items)
	}
	last := fmt.Sprintf("big%d@contoso.com", n-1)
	if d := decode[struct{ Status, Detail string }](t, e.get("/v1/remediations/"+big.ID+"/items/"+last)); d.Status != "canceled" || d.Detail != remediation.CanceledDetail {
		t.Errorf("GET item %s of the canceling job: %+v", last, d)
	}
	e.disp.mu.Lock()
	calls := e.disp.calls[before:]
	e.disp.mu.Unlock()
	if len(calls) != 1 || calls[0].JobID != big.ID || calls[0].Priority != "bulk" {
		t.Errorf("fan-out starts after the cancel = %+v; want the job's, once", calls)
	}
	if after := len(e.disp.calls); cancel(p.ID, nil).Status != "canceled" || len(e.disp.calls) != after {
		t.Error("a cancel that left nothing to cancel started a fan-out")
	}
}
