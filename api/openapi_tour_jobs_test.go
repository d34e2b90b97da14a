package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// The remediations part of the conformance tour (openapi_tour_test.go).

func (tr *tour) remediations() {
	t := tr.t
	const get, post = http.MethodGet, http.MethodPost
	create := "/v1/tenants/" + tenantA + "/remediations"
	body := map[string]any{"action": "disable_user", "identities": []string{"u0@contoso.com", "U1@contoso.com", "u2@contoso.com"},
		"reason": "risky sign-in", "context": map[string]any{"ticket": "INC-1"}}
	keyed := map[string]string{"Idempotency-Key": "k-1", "X-Actor": "jane@soc.example"}
	job := tr.as(call{method: post, path: create, body: body, header: keyed}, http.StatusAccepted).id(t)
	a := tr.as(call{method: post, path: create, body: body, header: keyed}, http.StatusOK)
	if a.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay without Idempotent-Replayed: %v", a.header)
	}
	other := map[string]any{"action": "disable_user", "identities": []string{"u0@contoso.com"}, "reason": "other"}
	tr.as(call{method: post, path: create, body: other, header: keyed}, http.StatusConflict)
	tr.as(call{method: post, path: "/v1/tenants/" + tenantC + "/remediations", body: other}, http.StatusNotFound)
	tr.as(call{method: post, path: create, body: map[string]any{"action": "disable_user", "identities": []string{}, "reason": "r"},
		invalid: true}, http.StatusBadRequest)
	tr.as(call{method: post, path: create, body: map[string]any{"action": "remove_group_memberships",
		"identities": []string{"u0@contoso.com", "u1@contoso.com"}, "reason": "r",
		"parameters": map[string]any{"group_ids": []string{tenantD}}}}, http.StatusUnprocessableEntity)
	tr.as(call{method: post, path: create, body: map[string]any{"action": "disable_user",
		"identities": identities(51, "u%d@contoso.com"), "reason": "r"}}, http.StatusRequestEntityTooLarge)
	preview := tr.as(call{method: post, path: create, body: dryRunBody(2)}, http.StatusOK)
	if _, ok := preview.json(t)["items"]; !ok {
		t.Errorf("dry run answered without items: %s", preview.body)
	}
	dry := preview.id(t)

	tr.as(call{method: get, path: "/v1/remediations"}, http.StatusOK)
	tr.as(call{method: get, path: "/v1/remediations?tenant_id=" + tenantA + "&action=disable_user&status=queued&limit=10"},
		http.StatusOK)
	tr.as(call{method: get, path: "/v1/remediations?status=bogus", invalid: true}, http.StatusBadRequest)
	tr.as(call{method: get, path: "/v1/remediations/" + job}, http.StatusOK)
	tr.as(call{method: get, path: "/v1/remediations/" + dry}, http.StatusOK)
	tr.as(call{method: get, path: "/v1/remediations/no-such-job"}, http.StatusNotFound)

	tr.items(job)
	tr.events(job)
	tr.derived(job, dry)
	tr.history()
	tr.deleteTenant()
}

func (tr *tour) items(job string) {
	const get = http.MethodGet
	items := "/v1/remediations/" + job + "/items"
	tr.as(call{method: get, path: items}, http.StatusOK)
	a := tr.as(call{method: get, path: items + "?status=pending&limit=2"}, http.StatusOK)
	if c, _ := a.json(tr.t)["next_cursor"].(string); c == "" {
		tr.t.Errorf("no next_cursor: %s", a.body)
	} else {
		tr.as(call{method: get, path: items + "?cursor=" + url.QueryEscape(c)}, http.StatusOK)
	}
	tr.as(call{method: get, path: items + "?status=bogus", invalid: true}, http.StatusBadRequest)
	tr.as(call{method: get, path: "/v1/remediations/no-such-job/items"}, http.StatusNotFound)

	calls := []remediation.Call{
		{Time: time.Now(), Attempt: 1, Operation: "GET /users/{id}", HTTPStatus: 429, ErrorCode: "TooManyRequests",
			RequestID: "req-1", Duration: 12 * time.Millisecond},
		{Time: time.Now(), Attempt: 2, Operation: "GET /users/{id}", HTTPStatus: 200, RequestID: "req-2", DurationMS: 8.5},
	}
	if err := tr.e.store.AppendCalls(context.Background(), job, 0, calls); err != nil {
		tr.t.Fatal(err)
	}
	tr.as(call{method: get, path: items + "/u0@contoso.com"}, http.StatusOK)
	tr.as(call{method: get, path: items + "/" + url.PathEscape("U1@Contoso.com")}, http.StatusOK)
	tr.as(call{method: get, path: items + "/nobody@contoso.com"}, http.StatusNotFound)
	tr.as(call{method: get, path: items + "/" + url.PathEscape("not an identity")}, http.StatusBadRequest)
}

// events streams job while its items run to the end, as a worker would.
func (tr *tour) events(job string) {
	e := tr.e
	tr.as(call{method: http.MethodGet, path: "/v1/remediations/no-such-job/events"}, http.StatusNotFound)
	s := tr.cl.stream("/v1/remediations/"+job+"/events", testAPIKey)
	s.want(eventProgress, `"status":"queued"`)
	e.move(job, 0, remediation.ItemPending, remediation.ItemRunning)
	s.want(eventItem, `"status":"running"`)
	s.want(eventProgress, `"running":1`)
	tr.e.finishItem(job, 0, remediation.ItemSucceeded, `{"accountEnabled":true}`)
	s.want(eventItem, `"status":"succeeded"`)
	s.want(eventProgress, `"succeeded":1`)
	e.finish(job, 1, remediation.ItemFailed, "")
	e.finish(job, 2, remediation.ItemSucceeded, `{"accountEnabled":true}`)
	for {
		ev, ok := s.next(false)
		if !ok {
			tr.t.Fatal("stream ended without done")
		}
		if ev.name == eventDone {
			break
		}
	}
	s.wantEnd()
}

// finishItem moves a running item to to, with prior state and results.
func (e *env) finishItem(job string, seq int, to remediation.ItemStatus, prior string) {
	e.t.Helper()
	tr := remediation.Transition{JobID: job, Seq: seq, From: []remediation.ItemStatus{remediation.ItemRunning}, To: to,
		Detail: "account disabled", ObjectID: tenantD, GraphRequestID: "req-2", PriorState: []byte(prior),
		Results: []byte(`{"targets":[{"id":"x"}]}`)}
	if _, ok, err := e.store.TransitionItem(context.Background(), tr); err != nil || !ok {
		e.t.Fatalf("item %d of %s to %s: %v %v", seq, job, to, ok, err)
	}
}

// derived tours undo, retry and cancel of the finished job and of others.
func (tr *tour) derived(job, dry string) {
	const post = http.MethodPost
	path := func(id, op string) string { return "/v1/remediations/" + id + "/" + op }
	keyed := map[string]string{"Idempotency-Key": "k-undo", "X-Actor": "jane@soc.example"}
	undo := map[string]any{"reason": "false positive"}
	tr.as(call{method: post, path: path(job, "undo"), body: undo, header: keyed}, http.StatusAccepted)
	tr.as(call{method: post, path: path(job, "undo"), body: undo, header: keyed}, http.StatusOK)
	tr.as(call{method: post, path: path(job, "retry"), header: actor}, http.StatusAccepted)
	tr.as(call{method: post, path: path(dry, "undo")}, http.StatusUnprocessableEntity)
	tr.as(call{method: post, path: path(dry, "retry"), body: map[string]any{"reason": "again"}}, http.StatusUnprocessableEntity)
	tr.as(call{method: post, path: path("no-such-job", "undo")}, http.StatusNotFound)
	tr.as(call{method: post, path: path("no-such-job", "retry")}, http.StatusNotFound)
	tr.as(call{method: post, path: path(job, "undo"), header: map[string]string{"X-Actor": strings.Repeat("a", maxActor+1)}, invalid: true},
		http.StatusBadRequest)

	queued := tr.e.submit(tenantA, "disable_user", "q@contoso.com").ID
	tr.as(call{method: post, path: path(queued, "undo")}, http.StatusConflict)
	tr.as(call{method: post, path: path(queued, "retry")}, http.StatusConflict)
	tr.as(call{method: post, path: path(queued, "cancel"), body: map[string]any{}, header: actor}, http.StatusOK)
	tr.as(call{method: post, path: path(queued, "cancel")}, http.StatusOK)
	tr.as(call{method: post, path: path(queued, "cancel"), body: map[string]any{"force": true}, invalid: true},
		http.StatusBadRequest)
	tr.as(call{method: post, path: path("no-such-job", "cancel")}, http.StatusNotFound)

}

// deleteTenant deletes tenant A once its jobs have ended.
func (tr *tour) deleteTenant() {
	tenant := "/v1/tenants/" + tenantA
	tr.as(call{method: http.MethodDelete, path: tenant}, http.StatusConflict) // the undo and retry jobs are queued
	tr.e.cancelAll()
	tr.as(call{method: http.MethodDelete, path: tenant, header: actor}, http.StatusNoContent)
	tr.as(call{method: http.MethodDelete, path: tenant}, http.StatusNotFound)
	tr.as(call{method: http.MethodDelete, path: "/v1/tenants/nope", invalid: true}, http.StatusBadRequest)
}

func (tr *tour) history() {
	const get = http.MethodGet
	tr.as(call{method: get, path: "/v1/history"}, http.StatusOK)
	since := url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	until := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano))
	tr.as(call{method: get, path: "/v1/history?tenant_id=" + tenantA + "&identity=u0@contoso.com&action=disable_user" +
		"&status=succeeded&since=" + since + "&until=" + until + "&limit=10"}, http.StatusOK)
	tr.as(call{method: get, path: "/v1/history", header: map[string]string{"Accept": "text/csv"}}, http.StatusOK)
	tr.as(call{method: get, path: "/v1/history?status=pending", invalid: true}, http.StatusBadRequest)
}
