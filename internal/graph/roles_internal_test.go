package graph

import "testing"

func TestScheduleRequestFailed(t *testing.T) {
	for status, want := range map[string]bool{
		"Provisioned": false, "Granted": false, "Revoked": false, "PendingApproval": false, "PendingProvisioning": false,
		"Failed": true, "FailedAsResourceIsLocked": true, "Denied": true, "AdminDenied": true, "Canceled": true,
		"TimedOut": true, "Invalid": true, "failed": true,
	} {
		if got := scheduleRequestFailed(status); got != want {
			t.Errorf("scheduleRequestFailed(%q) = %v, want %v", status, got, want)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"": "''", "abc": "'abc'", "O'Brien's": "'O''Brien''s'", "''": "''''''"} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}
