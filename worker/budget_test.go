package worker

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/budget"
	"github.com/entraremediator/remediator/internal/remediation"
)

func TestClassifyBudgetRefusal(t *testing.T) {
	we := &budget.WaitError{TenantID: "t1", Budget: "writes_bulk", Delay: 1500 * time.Millisecond}
	// As the wrapper and an executor return it: wrapped twice.
	err := fmt.Errorf("disable_user: %w", fmt.Errorf("SetAccountEnabled: %w", we))
	v := classify(err)
	if v.kind != kindBudget || v.retryAfter != we.Delay || v.itemErr != nil {
		t.Fatalf("verdict = %+v, want budget with delay %s and no item error", v, we.Delay)
	}
	b := &bounceError{err: we, delay: 2 * time.Second}
	if isFailure(b) {
		t.Error("a budget bounce counts against the task's retries")
	}
	if d := (backoff{base: time.Second, max: time.Minute}).delayFor(fmt.Errorf("x: %w", b)); d != 2*time.Second {
		t.Errorf("delayFor(bounce) = %s, want its own 2s", d)
	}
	var got *budget.WaitError
	if !errors.As(b, &got) || got != we {
		t.Error("a bounce does not unwrap to its WaitError")
	}
}

func TestCeilSecond(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 300_000_000, time.UTC)
	for _, tc := range []struct {
		d, want time.Duration
	}{
		{0, 700 * time.Millisecond},
		{200 * time.Millisecond, 700 * time.Millisecond},
		{700 * time.Millisecond, 700 * time.Millisecond},
		{701 * time.Millisecond, 1700 * time.Millisecond},
		{1500 * time.Millisecond, 1700 * time.Millisecond},
	} {
		got := ceilSecond(now, now.Add(tc.d))
		if got != tc.want || now.Add(got).Nanosecond() != 0 {
			t.Errorf("ceilSecond(+%s) = %s, want %s (a whole second, not before)", tc.d, got, tc.want)
		}
	}
	if got := ceilSecond(now, now.Add(-time.Minute)); got != 0 {
		t.Errorf("ceilSecond(past) = %s, want 0", got)
	}
}

func TestItemCost(t *testing.T) {
	job := func(a remediation.Action, mod func(*remediation.Job)) *remediation.Job {
		j := &remediation.Job{Action: a}
		if mod != nil {
			mod(j)
		}
		return j
	}
	confirmed := func(j *remediation.Job) { j.ConfirmAdminTargets = true }
	dry := func(j *remediation.Job) { j.DryRun = true }
	undo := func(j *remediation.Job) { j.UndoOf = "job-0" }
	for _, tc := range []struct {
		name       string
		job        *remediation.Job
		ru, writes int
	}{
		// GET 1 + transitiveMemberOf 2 + role instances 2 + PATCH 1.
		{"disable", job(remediation.ActionDisableUser, nil), 6, 1},
		{"disable confirmed", job(remediation.ActionDisableUser, confirmed), 2, 1},
		{"disable dry run", job(remediation.ActionDisableUser, dry), 6, 0},
		{"disable undo", job(remediation.ActionDisableUser, undo), 2, 1},
		{"revoke", job(remediation.ActionRevokeSessions, nil), 2, 1},
		{"revoke undo", job(remediation.ActionRevokeSessions, undo), 0, 0},
		{"enforce mfa", job(remediation.ActionEnforceMFA, nil), 5, 0},
		{"enforce mfa confirmed", job(remediation.ActionEnforceMFA, confirmed), 1, 0},
		{"enforce phishing resistant", job(remediation.ActionEnforcePhishingResistantMFA, confirmed), 5, 0},
		{"enforce undo", job(remediation.ActionEnforceMFA, undo), 0, 0},
		{"roles", job(remediation.ActionRemoveRoleAssignments, nil), 0, 0},
		{"groups", job(remediation.ActionRemoveGroupMemberships, nil), 0, 0},
	} {
		if ru, w := itemCost(tc.job); ru != tc.ru || w != tc.writes {
			t.Errorf("%s: cost %d RU %d writes, want %d RU %d writes", tc.name, ru, w, tc.ru, tc.writes)
		}
	}
}

func TestLaneOf(t *testing.T) {
	if laneOf("urgent") != budget.Urgent || laneOf("bulk") != budget.Bulk || laneOf("") != budget.Bulk {
		t.Error("lanes: want urgent for \"urgent\" only")
	}
}
