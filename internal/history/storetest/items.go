package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/remediation"
)

var itemTests = map[string]func(t *testing.T, s remediation.Store){
	"ListItemsStatusFilter": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		j := mustJob(t, s, "t1", 6)
		finish(t, s, j.ID, 1, remediation.ItemSucceeded)
		finish(t, s, j.ID, 4, remediation.ItemSucceeded)
		finish(t, s, j.ID, 2, remediation.ItemFailed)
		items, next, err := s.ListItems(ctx, j.ID, remediation.ItemFilter{Status: remediation.ItemSucceeded})
		if err != nil || next != "" || len(items) != 2 || items[0].Seq != 1 || items[1].Seq != 4 {
			t.Fatalf("succeeded items = %v, %q, %v; want seq 1, 4", items, next, err)
		}
		items, _, err = s.ListItems(ctx, j.ID, remediation.ItemFilter{Status: remediation.ItemPending})
		if err != nil || len(items) != 3 || items[0].Seq != 0 || items[1].Seq != 3 || items[2].Seq != 5 {
			t.Fatalf("pending items = %v, %v; want seq 0, 3, 5", items, err)
		}
		items, _, err = s.ListItems(ctx, j.ID, remediation.ItemFilter{Status: remediation.ItemCanceled})
		if err != nil || len(items) != 0 {
			t.Fatalf("canceled items = %v, %v; want none", items, err)
		}
		// Several statuses: any of them, in seq order, paged.
		f := remediation.ItemFilter{Statuses: []remediation.ItemStatus{remediation.ItemFailed, remediation.ItemPending}, Limit: 2}
		items, next, err = s.ListItems(ctx, j.ID, f)
		if err != nil || next == "" || len(items) != 2 || items[0].Seq != 0 || items[1].Seq != 2 {
			t.Fatalf("failed or pending items, page 1 = %v, %q, %v; want seq 0, 2", items, next, err)
		}
		f.Cursor = next
		items, next, err = s.ListItems(ctx, j.ID, f)
		if err != nil || next != "" || len(items) != 2 || items[0].Seq != 3 || items[1].Seq != 5 {
			t.Fatalf("failed or pending items, page 2 = %v, %q, %v; want seq 3, 5", items, next, err)
		}
		f = remediation.ItemFilter{Status: remediation.ItemSucceeded, Statuses: []remediation.ItemStatus{remediation.ItemFailed}}
		items, _, err = s.ListItems(ctx, j.ID, f)
		if err != nil || len(items) != 3 || items[0].Seq != 1 || items[1].Seq != 2 || items[2].Seq != 4 {
			t.Fatalf("Status and Statuses = %v, %v; want seq 1, 2, 4", items, err)
		}
	},
	"ListItemsUnknownJob": func(t *testing.T, s remediation.Store) {
		_, _, err := s.ListItems(t.Context(), uuid.NewString(), remediation.ItemFilter{})
		wantCode(t, err, remediation.ENOTFOUND)
	},
	"GetItemAndCalls": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		j := mustJob(t, s, "t1", 3)
		t0 := time.Date(2025, 1, 2, 3, 4, 5, 678901234, time.UTC)
		calls := []remediation.Call{
			{Time: t0.Add(2 * time.Second), Attempt: 2, Operation: "PATCH /users/{id}", HTTPStatus: 204,
				RequestID: "r3", Duration: 1500 * time.Microsecond},
			{Time: t0, Attempt: 1, Operation: "GET /users/{id}", HTTPStatus: 200, RequestID: "r1", Duration: 42 * time.Millisecond},
		}
		if err := s.AppendCalls(ctx, j.ID, 1, calls); err != nil {
			t.Fatalf("AppendCalls: %v", err)
		}
		late := remediation.Call{Time: t0.Add(time.Second), Attempt: 1, Operation: "PATCH /users/{id}", HTTPStatus: 429,
			ErrorCode: "TooManyRequests", RequestID: "r2", Duration: 3 * time.Millisecond}
		if err := s.AppendCalls(ctx, j.ID, 1, []remediation.Call{late}); err != nil {
			t.Fatalf("AppendCalls: %v", err)
		}
		it, got, err := s.GetItem(ctx, j.ID, "u000001@contoso.com")
		if err != nil {
			t.Fatalf("GetItem: %v", err)
		}
		if it.Seq != 1 || it.JobID != j.ID || it.TenantID != "t1" || it.Action != j.Action {
			t.Fatalf("GetItem item = %+v", it)
		}
		want := []remediation.Call{calls[1], late, calls[0]}
		if len(got) != len(want) {
			t.Fatalf("calls = %+v, want %d in time order", got, len(want))
		}
		for i, c := range got {
			w := want[i]
			if !sameTime(c.Time, w.Time) || c.Attempt != w.Attempt || c.Operation != w.Operation ||
				c.HTTPStatus != w.HTTPStatus || c.ErrorCode != w.ErrorCode || c.RequestID != w.RequestID ||
				c.Duration != w.Duration || c.DurationMS != float64(w.Duration)/float64(time.Millisecond) {
				t.Fatalf("call %d = %+v, want %+v", i, c, w)
			}
		}
		_, none, err := s.GetItem(ctx, j.ID, "u000002@contoso.com")
		if err != nil || len(none) != 0 {
			t.Fatalf("item without calls: %v, %v", none, err)
		}
	},
	"NotFound": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		j := mustJob(t, s, "t1", 2)
		_, _, err := s.GetItem(ctx, j.ID, "nobody@contoso.com")
		wantCode(t, err, remediation.ENOTFOUND)
		_, _, err = s.GetItem(ctx, uuid.NewString(), "u000000@contoso.com")
		wantCode(t, err, remediation.ENOTFOUND)
		_, err = s.GetItemBySeq(ctx, j.ID, 2)
		wantCode(t, err, remediation.ENOTFOUND)
		_, err = s.GetItemBySeq(ctx, uuid.NewString(), 0)
		wantCode(t, err, remediation.ENOTFOUND)
		wantCode(t, s.AppendCalls(ctx, j.ID, 7, []remediation.Call{{Operation: "x"}}), remediation.ENOTFOUND)
		_, err = s.ItemsFrom(ctx, uuid.NewString(), 0, 10)
		wantCode(t, err, remediation.ENOTFOUND)
	},
	"GetItemBySeq": func(t *testing.T, s remediation.Store) {
		j := mustJob(t, s, "t1", 3)
		it, err := s.GetItemBySeq(t.Context(), j.ID, 2)
		if err != nil || it.Seq != 2 || it.Identity != "u000002@contoso.com" || it.TenantID != "t1" {
			t.Fatalf("GetItemBySeq = %+v, %v", it, err)
		}
	},
	"ItemsFrom": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		j := mustJob(t, s, "t1", 25)
		for _, tc := range []struct{ from, limit, want, first int }{
			{0, 10, 10, 0}, {10, 10, 10, 10}, {20, 10, 5, 20}, {25, 10, 0, 0}, {3, 0, 22, 3}, {0, 5000, 25, 0},
		} {
			items, err := s.ItemsFrom(ctx, j.ID, tc.from, tc.limit)
			if err != nil || len(items) != tc.want {
				t.Fatalf("ItemsFrom(%d, %d) = %d items, %v; want %d", tc.from, tc.limit, len(items), err, tc.want)
			}
			for i, it := range items {
				if it.Seq != tc.first+i {
					t.Fatalf("ItemsFrom(%d, %d)[%d].Seq = %d", tc.from, tc.limit, i, it.Seq)
				}
			}
		}
	},
	"UpdatedAt": func(t *testing.T, s remediation.Store) {
		before := time.Now().Add(-time.Second)
		j := mustJob(t, s, "t1", 1)
		it := mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 0, To: remediation.ItemRunning,
			From: []remediation.ItemStatus{remediation.ItemPending}})
		if it.UpdatedAt.Before(before) || it.UpdatedAt.After(time.Now().Add(time.Second)) || it.UpdatedAt.Location() != time.UTC {
			t.Fatalf("UpdatedAt = %v, want now in UTC", it.UpdatedAt)
		}
		got, err := s.GetItemBySeq(t.Context(), j.ID, 0)
		if err != nil || !got.UpdatedAt.Equal(it.UpdatedAt) {
			t.Fatalf("stored UpdatedAt = %v, returned %v (%v)", got.UpdatedAt, it.UpdatedAt, err)
		}
	},
}
