package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/remediation"
)

var jobTests = map[string]func(t *testing.T, s remediation.Store){
	"CreateGetRoundTrip": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		mustTenant(t, s, "t1")
		in := newJob("t1", remediation.ActionRemoveGroupMemberships)
		in.CreatedAt = time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.FixedZone("X", -5*3600))
		in.Context = []byte(`{"ticket": "INC-1", "nested": {"b": 2, "a": [1, 2]}}`)
		in.Params = []byte(`{"all":true}`)
		in.DryRun, in.Duplicates, in.Priority = true, 3, "bulk"
		in.ConfirmAdminTargets, in.UndoOf, in.RetryOf = true, "undone-job", "retried-job"
		in.IdempotencyKey, in.RequestHash = "key-1", "hash-1"
		ids := identities("u", 3)
		got := mustCreate(t, s, in, ids)
		for _, j := range []*remediation.Job{got, mustGetJob(t, s, in.ID)} {
			if j.ID != in.ID || j.TenantID != "t1" || j.Action != in.Action || j.Status != remediation.JobQueued ||
				j.Total != 3 || j.Duplicates != 3 || j.Reason != in.Reason || j.RequestedBy != in.RequestedBy ||
				j.Actor != in.Actor || !j.DryRun || j.Priority != "bulk" || j.IdempotencyKey != "key-1" ||
				j.RequestHash != "hash-1" || j.FanoutNext != 0 || j.CancelRequested || !j.ConfirmAdminTargets ||
				j.UndoOf != "undone-job" || j.RetryOf != "retried-job" {
				t.Fatalf("stored job = %+v, want %+v", j, in)
			}
			if string(j.Context) != string(in.Context) || string(j.Params) != string(in.Params) {
				t.Fatalf("JSON = %s / %s, want byte-identical %s / %s", j.Context, j.Params, in.Context, in.Params)
			}
			if !sameTime(j.CreatedAt, in.CreatedAt) || j.StartedAt != nil || j.FinishedAt != nil {
				t.Fatalf("times = %v %v %v, want %v nil nil", j.CreatedAt, j.StartedAt, j.FinishedAt, in.CreatedAt)
			}
			wantCounts(t, j, map[remediation.ItemStatus]int{remediation.ItemPending: 3})
		}
		items, _, err := s.ListItems(ctx, in.ID, remediation.ItemFilter{})
		if err != nil || len(items) != 3 {
			t.Fatalf("ListItems = %d items, %v", len(items), err)
		}
		for i, it := range items {
			if it.Seq != i || it.Identity != ids[i] || it.Status != remediation.ItemPending || it.Attempts != 0 ||
				it.TenantID != "t1" || it.Action != in.Action || it.Error != nil || it.PriorState != nil || it.UndoState != nil || it.Results != nil {
				t.Fatalf("item %d = %+v", i, it)
			}
		}
	},
	"AbsentJSONIsNil": func(t *testing.T, s remediation.Store) {
		j := mustJob(t, s, "t1", 1)
		got := mustGetJob(t, s, j.ID)
		if got.Context != nil || got.Params != nil {
			t.Fatalf("Context/Params = %q/%q, want nil", got.Context, got.Params)
		}
		if got.ConfirmAdminTargets || got.UndoOf != "" || got.RetryOf != "" {
			t.Fatalf("ConfirmAdminTargets/UndoOf/RetryOf = %v/%q/%q, want zero", got.ConfirmAdminTargets, got.UndoOf, got.RetryOf)
		}
	},
	"UnknownTenant": func(t *testing.T, s remediation.Store) {
		_, _, err := s.CreateJob(t.Context(), newJob("nope", remediation.ActionDisableUser), identities("u", 2))
		wantCode(t, err, remediation.ENOTFOUND)
	},
	"NoIdentities": func(t *testing.T, s remediation.Store) {
		mustTenant(t, s, "t1")
		_, _, err := s.CreateJob(t.Context(), newJob("t1", remediation.ActionDisableUser), nil)
		wantCode(t, err, remediation.EINVALID)
	},
	"DuplicateIDConflicts": func(t *testing.T, s remediation.Store) {
		j := mustJob(t, s, "t1", 2)
		again := newJob("t1", remediation.ActionDisableUser)
		again.ID = j.ID
		_, _, err := s.CreateJob(t.Context(), again, identities("v", 1))
		wantCode(t, err, remediation.ECONFLICT)
		wantCounts(t, mustGetJob(t, s, j.ID), map[remediation.ItemStatus]int{remediation.ItemPending: 2})
	},
	"GetMissing": func(t *testing.T, s remediation.Store) {
		_, err := s.GetJob(t.Context(), uuid.NewString())
		wantCode(t, err, remediation.ENOTFOUND)
	},
	"Idempotency": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		mustTenant(t, s, "t1")
		mustTenant(t, s, "t2")
		first := newJob("t1", remediation.ActionDisableUser)
		first.IdempotencyKey, first.RequestHash = "k", "h1"
		mustCreate(t, s, first, identities("u", 2))

		same := newJob("t1", remediation.ActionDisableUser)
		same.IdempotencyKey, same.RequestHash = "k", "h1"
		got, created, err := s.CreateJob(ctx, same, identities("u", 5))
		if err != nil || created || got.ID != first.ID || got.Total != 2 {
			t.Fatalf("replay = %+v, created %v, %v; want job %s, created=false", got, created, err, first.ID)
		}
		if _, err := s.GetJob(ctx, same.ID); remediation.ErrorCode(err) != remediation.ENOTFOUND {
			t.Fatalf("replay stored a second job: %v", err)
		}

		other := newJob("t1", remediation.ActionDisableUser)
		other.IdempotencyKey, other.RequestHash = "k", "h2"
		_, _, err = s.CreateJob(ctx, other, identities("u", 2))
		wantCode(t, err, remediation.ECONFLICT)

		otherTenant := newJob("t2", remediation.ActionDisableUser)
		otherTenant.IdempotencyKey, otherTenant.RequestHash = "k", "h2"
		mustCreate(t, s, otherTenant, identities("u", 1))

		for range 2 {
			mustCreate(t, s, newJob("t1", remediation.ActionDisableUser), identities("u", 1)) // no key
		}
		jobs, _, err := s.ListJobs(ctx, remediation.JobFilter{TenantID: "t1"})
		if err != nil || len(jobs) != 3 {
			t.Fatalf("t1 has %d jobs (%v), want 3", len(jobs), err)
		}
	},
	"ConcurrentIdempotentSubmissions": func(t *testing.T, s remediation.Store) {
		mustTenant(t, s, "t1")
		const n = 8
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			ids     = map[string]int{}
			created int
			errs    []error
		)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				j := newJob("t1", remediation.ActionRevokeSessions)
				j.IdempotencyKey, j.RequestHash = "same-key", "same-hash"
				<-start
				got, c, err := s.CreateJob(t.Context(), j, identities("u", 500))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				ids[got.ID]++
				if c {
					created++
				}
			})
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 || created != 1 || len(ids) != 1 {
			t.Fatalf("errors %v, created %d, distinct jobs %v; want one job created once", errs, created, ids)
		}
		jobs, _, err := s.ListJobs(t.Context(), remediation.JobFilter{})
		if err != nil || len(jobs) != 1 || jobs[0].Total != 500 {
			t.Fatalf("ListJobs = %d jobs, %v; want one of 500 items", len(jobs), err)
		}
	},
	"LargeJob": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		mustTenant(t, s, "t1")
		const n = 100_000
		j := newJob("t1", remediation.ActionRevokeSessions)
		start := time.Now()
		mustCreate(t, s, j, identities("user", n))
		t.Logf("CreateJob with %d identities took %v", n, time.Since(start))
		got := mustGetJob(t, s, j.ID)
		if got.Total != n {
			t.Fatalf("Total = %d", got.Total)
		}
		wantCounts(t, got, map[remediation.ItemStatus]int{remediation.ItemPending: n})
		last, err := s.GetItemBySeq(ctx, j.ID, n-1)
		if err != nil || last.Identity != identities("user", n)[n-1] {
			t.Fatalf("last item = %+v, %v", last, err)
		}
		batch, err := s.ItemsFrom(ctx, j.ID, 0, 5000)
		if err != nil || len(batch) != 5000 || batch[4999].Seq != 4999 {
			t.Fatalf("ItemsFrom(0, 5000) = %d items, %v; want 5000", len(batch), err)
		}
		tail, err := s.ItemsFrom(ctx, j.ID, n-10, 100)
		if err != nil || len(tail) != 10 || tail[0].Seq != n-10 {
			t.Fatalf("ItemsFrom tail = %d items, %v", len(tail), err)
		}
		it, _, err := s.GetItem(ctx, j.ID, "user054321@contoso.com")
		if err != nil || it.Seq != 54321 {
			t.Fatalf("GetItem = %+v, %v", it, err)
		}
	},
	"Fanout": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		mustTenant(t, s, "t1")
		base := time.Now().Add(-time.Hour)
		var jobs []*remediation.Job
		for i := range 4 {
			j := newJob("t1", remediation.ActionDisableUser)
			j.CreatedAt = base.Add(time.Duration(3-i) * time.Minute) // created newest first
			jobs = append(jobs, mustCreate(t, s, j, identities("u", 10)))
		}
		wantNeeding := func(want ...*remediation.Job) {
			t.Helper()
			ids, err := s.JobsNeedingFanout(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != len(want) {
				t.Fatalf("JobsNeedingFanout = %v, want %d jobs", ids, len(want))
			}
			for i := range want {
				if ids[i] != want[i].ID {
					t.Fatalf("JobsNeedingFanout[%d] = %s, want %s (oldest first)", i, ids[i], want[i].ID)
				}
			}
		}
		wantNeeding(jobs[3], jobs[2], jobs[1], jobs[0])
		if ids, err := s.JobsNeedingFanout(ctx, 2); err != nil || len(ids) != 2 {
			t.Fatalf("limit 2: %v, %v", ids, err)
		}
		advance := func(j *remediation.Job, next, want int) {
			t.Helper()
			if err := s.AdvanceFanout(ctx, j.ID, next); err != nil {
				t.Fatalf("AdvanceFanout(%d): %v", next, err)
			}
			if got := mustGetJob(t, s, j.ID).FanoutNext; got != want {
				t.Fatalf("after AdvanceFanout(%d) FanoutNext = %d, want %d", next, got, want)
			}
		}
		advance(jobs[0], 5, 5)
		advance(jobs[0], 3, 5) // never backwards
		advance(jobs[0], 50, 10)
		wantNeeding(jobs[3], jobs[2], jobs[1])
		if _, err := s.CancelJob(ctx, jobs[1].ID); err != nil {
			t.Fatal(err)
		}
		wantNeeding(jobs[3], jobs[2])
		for seq := range 10 {
			finish(t, s, jobs[2].ID, seq, remediation.ItemSucceeded)
		}
		wantNeeding(jobs[3])
		wantCode(t, s.AdvanceFanout(ctx, uuid.NewString(), 1), remediation.ENOTFOUND)
	},
}
