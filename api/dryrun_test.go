package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// previewJob is a job answer with its items, as a portal reads it.
type previewJob struct {
	job
	Items []struct {
		Identity string                 `json:"identity"`
		Status   string                 `json:"status"`
		Detail   string                 `json:"detail"`
		Error    *remediation.ItemError `json:"error"`
		Results  json.RawMessage        `json:"results"`
	} `json:"items"`
}

// previewWorker returns a StartFanout hook that, in a goroutine as a
// worker would, previews every item of a dry-run job: the first skipped,
// the others succeeded with per-target results.
func (e *env) previewWorker(t *testing.T) func(jobID string) {
	return func(jobID string) {
		go func() {
			ctx := context.Background()
			items, _, err := e.store.ListItems(ctx, jobID, remediation.ItemFilter{Limit: 1000})
			if err != nil {
				t.Errorf("worker: list items: %v", err)
				return
			}
			for _, it := range items {
				to, detail := remediation.ItemSucceeded, "would disable the account"
				results := json.RawMessage(fmt.Sprintf(`{"would":"disable","seq":%d}`, it.Seq))
				if it.Seq == 0 {
					to, detail, results = remediation.ItemSkipped, "already disabled", nil
				}
				for _, tr := range []remediation.Transition{
					{JobID: jobID, Seq: it.Seq, From: []remediation.ItemStatus{remediation.ItemPending}, To: remediation.ItemRunning},
					{JobID: jobID, Seq: it.Seq, From: []remediation.ItemStatus{remediation.ItemRunning}, To: to, Detail: detail, Results: results},
				} {
					if _, ok, err := e.store.TransitionItem(ctx, tr); err != nil || !ok {
						t.Errorf("worker: transition %+v: %v %v", tr, ok, err)
						return
					}
				}
			}
		}()
	}
}

func dryRunBody(n int) map[string]any {
	return map[string]any{"action": "disable_user", "identities": identities(n, "u%d@contoso.com"), "reason": "preview", "dry_run": true}
}

// A small dry run that completes while the request waits answers 200 with
// the job and its items.
func TestDryRunAnswersWithItems(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DryRunWait = 0 }) // the default, 10 s
	e.addTenant(tenantA)
	e.disp.setOnStart(e.previewWorker(t))

	hdr := map[string]string{"Idempotency-Key": "preview-1"}
	w := e.post(remPath, dryRunBody(3), hdr)
	wantStatus(t, w, http.StatusOK)
	p := decode[previewJob](t, w)
	if !p.DryRun || p.Status != "completed" || p.Total != 3 || p.FinishedAt == nil || w.Header().Get("Location") != "/v1/remediations/"+p.ID {
		t.Errorf("job = %+v", p.job)
	}
	if len(p.Items) != 3 {
		t.Fatalf("items = %+v", p.Items)
	}
	if it := p.Items[0]; it.Identity != "u0@contoso.com" || it.Status != "skipped" || it.Detail != "already disabled" || it.Results != nil {
		t.Errorf("item 0 = %+v", it)
	}
	if it := p.Items[2]; it.Identity != "u2@contoso.com" || it.Status != "succeeded" || string(it.Results) != `{"would":"disable","seq":2}` {
		t.Errorf("item 2 = %+v (results %s)", it, it.Results)
	}
	raw := decode[map[string]json.RawMessage](t, w)
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw["items"], &items); err != nil || len(items) != 3 {
		t.Fatalf("items %s: %v", raw["items"], err)
	}
	for _, k := range []string{"identity", "status", "detail", "error"} {
		if _, ok := items[0][k]; !ok {
			t.Errorf("item without %s: %s", k, raw["items"])
		}
	}
	if st := e.storedJob(p.ID); !st.DryRun {
		t.Error("stored job is not a dry run")
	}
	if calls := e.disp.Calls(); len(calls) != 1 || calls[0].JobID != p.ID {
		t.Errorf("dispatcher calls = %v", calls)
	}

	// A replay answers the finished preview with its items too.
	w = e.post(remPath, dryRunBody(3), hdr)
	wantStatus(t, w, http.StatusOK)
	if r := decode[previewJob](t, w); w.Header().Get("Idempotent-Replayed") != "true" || r.ID != p.ID || len(r.Items) != 3 {
		t.Errorf("replay = %s", w.Body.String())
	}
	// A real run of the same request is another request.
	w = e.post(remPath, map[string]any{"action": "disable_user", "identities": identities(3, "u%d@contoso.com"), "reason": "preview"}, hdr)
	wantError(t, w, 409, remediation.ECONFLICT)

	// So does a dry-run undo.
	e.disp.setOnStart(nil)
	src := e.finished("disable_user", remediation.ItemSucceeded, remediation.ItemSucceeded)
	e.disp.setOnStart(e.previewWorker(t))
	w = e.post("/v1/remediations/"+src.ID+"/undo", map[string]any{"dry_run": true}, nil)
	wantStatus(t, w, http.StatusOK)
	if u := decode[previewJob](t, w); u.UndoOf == nil || *u.UndoOf != src.ID || !u.DryRun || len(u.Items) != 2 || u.Items[1].Status != "succeeded" {
		t.Errorf("dry-run undo = %s", w.Body.String())
	}
}

// A dry run that does not finish in time, a large one, a real run, and a
// dry run whose fan-out could not start answer 202 without items.
func TestDryRunAnswers202(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.DryRunWait = 150 * time.Millisecond })
		e.addTenant(tenantA)
		start := time.Now()
		w := e.post(remPath, dryRunBody(2), nil)
		wantStatus(t, w, http.StatusAccepted)
		if el := time.Since(start); el < 150*time.Millisecond {
			t.Errorf("answered after %v, before DryRunWait", el)
		}
		p := decode[previewJob](t, w)
		if p.Items != nil || !p.DryRun || p.Status != "queued" {
			t.Errorf("answer = %s", w.Body.String())
		}
		if _, ok := decode[map[string]any](t, w)["items"]; ok {
			t.Errorf("202 with items: %s", w.Body.String())
		}
	})
	for _, tc := range []struct {
		name string
		body map[string]any
		fail bool
	}{
		{"more than 100 identities", dryRunBody(101), false},
		{"not a dry run", map[string]any{"action": "disable_user", "identities": []string{"a@contoso.com"}, "reason": "r"}, false},
		{"fan-out not started", dryRunBody(1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.DryRunWait = 0 })
			e.addTenant(tenantA)
			// The job completes before StartFanout returns: had the server
			// waited, it would have answered 200.
			e.disp.setOnStart(func(jobID string) { e.completeAll(jobID) })
			if tc.fail {
				e.disp.startErr = errors.New("redis down")
				e.disp.setOnStart(nil)
			}
			start := time.Now()
			w := e.post(remPath, tc.body, nil)
			wantStatus(t, w, http.StatusAccepted)
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("answered after %v", el)
			}
			if _, ok := decode[map[string]any](t, w)["items"]; ok {
				t.Errorf("202 with items: %s", w.Body.String())
			}
		})
	}
}

// completeAll drives every item of a job to succeeded.
func (e *env) completeAll(jobID string) {
	for _, it := range e.storedItems(jobID) {
		e.finish(jobID, it.Seq, remediation.ItemSucceeded, "")
	}
}
