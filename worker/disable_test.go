package worker_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
)

const (
	msgNotFound   = "identity not found"
	msgForbidden  = "insufficient privileges (the app's service principal needs a privileged role for admin targets)"
	msgOnPremises = "managed on-premises: change it in on-premises AD"
)

func TestBulkDisable(t *testing.T) {
	b := setup(t, options{})
	alice := b.addUser(graphsim.UserSpec{UserPrincipalName: "alice@contoso.com", AccountEnabled: true})
	guest := b.addUser(graphsim.UserSpec{UserPrincipalName: "eve_fabrikam.com#EXT#@contoso.onmicrosoft.com", UserType: "Guest", AccountEnabled: true})
	bob := b.addUser(graphsim.UserSpec{UserPrincipalName: "bob@contoso.com", AccountEnabled: false})
	carol := b.addUser(graphsim.UserSpec{UserPrincipalName: "carol@contoso.com", AccountEnabled: true, OnPremisesSyncEnabled: true})
	dave := b.addUser(graphsim.UserSpec{UserPrincipalName: "dave@contoso.com", AccountEnabled: true, Roles: []string{graphsim.RoleGlobalAdministrator}})
	erin := b.addUser(graphsim.UserSpec{UserPrincipalName: "erin@contoso.com", AccountEnabled: true})
	frank := b.addUser(graphsim.UserSpec{UserPrincipalName: "frank@contoso.com", AccountEnabled: true})
	const ghost = "ghost@contoso.com"

	// erin: the first read is throttled with Retry-After 1.
	b.sim.InjectFault(graphsim.FaultSpec{Operation: "GET /users/{id}", UserID: erin.ID, Status: http.StatusTooManyRequests,
		RetryAfter: time.Second, Times: 1})
	// frank: the PATCH is applied, then answered 504 (the write went
	// through; the retry must report "disabled", not "already disabled").
	b.sim.InjectFault(graphsim.FaultSpec{Operation: "PATCH /users/{id}", UserID: frank.ID, Status: http.StatusGatewayTimeout,
		ApplyThenFail: true, Times: 1})

	// Admin targets are confirmed: dave's refusal comes from Graph (the
	// app's service principal lacks a privileged role).
	job := b.createJobWith(remediation.ActionDisableUser, "urgent", func(j *remediation.Job) { j.ConfirmAdminTargets = true },
		alice.UserPrincipalName, guest.UserPrincipalName, bob.UserPrincipalName, ghost,
		carol.UserPrincipalName, dave.UserPrincipalName, erin.ID, frank.UserPrincipalName)
	if err := b.queue.StartFanout(b.ctx, job.ID, job.Priority); err != nil {
		t.Fatal(err)
	}
	job = b.waitJob(job.ID, 30*time.Second)

	if job.Status != remediation.JobCompleted {
		t.Fatalf("job status = %s, want completed", job.Status)
	}
	wantCounts := map[remediation.ItemStatus]int{remediation.ItemSucceeded: 5, remediation.ItemFailed: 3}
	for _, s := range remediation.ItemStatuses {
		if job.Counts[s] != wantCounts[s] {
			t.Errorf("count %s = %d, want %d (counts %v)", s, job.Counts[s], wantCounts[s], job.Counts)
		}
	}

	type want struct {
		user      graphsim.UserState
		identity  string
		status    remediation.ItemStatus
		detail    string
		errCode   string
		errMsg    string
		attempts  int
		patches   int
		enabled   bool
		withPrior bool
	}
	wants := []want{
		{user: alice, identity: alice.UserPrincipalName, status: remediation.ItemSucceeded, detail: "disabled", attempts: 1, patches: 1, withPrior: true},
		{user: guest, identity: guest.UserPrincipalName, status: remediation.ItemSucceeded, detail: "disabled", attempts: 1, patches: 1, withPrior: true},
		{user: bob, identity: bob.UserPrincipalName, status: remediation.ItemSucceeded, detail: "already disabled", attempts: 1},
		{user: graphsim.UserState{UserPrincipalName: ghost}, identity: ghost, status: remediation.ItemFailed,
			errCode: "Request_ResourceNotFound", errMsg: msgNotFound, attempts: 1},
		{user: carol, identity: carol.UserPrincipalName, status: remediation.ItemFailed, errCode: "Request_BadRequest",
			errMsg: msgOnPremises, attempts: 1, patches: 1, enabled: true, withPrior: true},
		{user: dave, identity: dave.UserPrincipalName, status: remediation.ItemFailed, errCode: "Authorization_RequestDenied",
			errMsg: msgForbidden, attempts: 1, patches: 1, enabled: true, withPrior: true},
		{user: erin, identity: erin.ID, status: remediation.ItemSucceeded, detail: "disabled", attempts: 2, patches: 1, withPrior: true},
		{user: frank, identity: frank.UserPrincipalName, status: remediation.ItemSucceeded, detail: "disabled", attempts: 2, patches: 1, withPrior: true},
	}
	for _, w := range wants {
		t.Run(w.identity, func(t *testing.T) {
			it, calls := b.item(job.ID, w.identity)
			if it.Status != w.status || it.Detail != w.detail || it.Attempts != w.attempts {
				t.Errorf("item = %s %q attempts %d, want %s %q attempts %d", it.Status, it.Detail, it.Attempts, w.status, w.detail, w.attempts)
			}
			switch {
			case w.errCode == "" && it.Error != nil:
				t.Errorf("item error = %+v, want none", it.Error)
			case w.errCode != "" && (it.Error == nil || it.Error.Code != w.errCode || it.Error.Message != w.errMsg):
				t.Errorf("item error = %+v, want {%s %s}", it.Error, w.errCode, w.errMsg)
			}
			if w.withPrior {
				var prior struct {
					AccountEnabled    bool   `json:"account_enabled"`
					UserPrincipalName string `json:"user_principal_name"`
				}
				if err := json.Unmarshal(it.PriorState, &prior); err != nil || !prior.AccountEnabled ||
					prior.UserPrincipalName != w.user.UserPrincipalName {
					t.Errorf("prior state = %s, want account_enabled true and the UPN", it.PriorState)
				}
			} else if len(it.PriorState) != 0 {
				t.Errorf("prior state = %s, want none", it.PriorState)
			}
			if w.user.ID != "" && it.ObjectID != w.user.ID && w.status == remediation.ItemSucceeded {
				t.Errorf("object id = %q, want %s", it.ObjectID, w.user.ID)
			}

			reqs := b.userRequests(w.user)
			if len(reqs) == 0 {
				t.Fatal("no Graph request for the user")
			}
			last := reqs[len(reqs)-1]
			if it.GraphRequestID == "" || it.GraphRequestID != last.RequestID {
				t.Errorf("graph_request_id = %q, want the last request's %q (%s %d)", it.GraphRequestID, last.RequestID, last.Operation, last.Status)
			}
			if got := countOps(reqs, http.MethodPatch); got != w.patches {
				t.Errorf("%d PATCH requests, want %d", got, w.patches)
			}
			if len(calls) != len(reqs) {
				t.Errorf("call log has %d calls, simulator saw %d requests", len(calls), len(reqs))
			}
			for i := range min(len(calls), len(reqs)) {
				if calls[i].RequestID != reqs[i].RequestID || calls[i].HTTPStatus != reqs[i].Status {
					t.Errorf("call %d = %s %d %s, simulator %s %d %s", i, calls[i].Operation, calls[i].HTTPStatus,
						calls[i].RequestID, reqs[i].Operation, reqs[i].Status, reqs[i].RequestID)
				}
			}
			if n := len(calls); n > 0 && calls[n-1].Attempt != w.attempts {
				t.Errorf("last call attempt = %d, want %d", calls[n-1].Attempt, w.attempts)
			}
			if w.user.ID != "" {
				st, _ := b.tenant.User(w.user.ID)
				if st.AccountEnabled != w.enabled {
					t.Errorf("simulator accountEnabled = %v, want %v", st.AccountEnabled, w.enabled)
				}
			}
		})
	}

	// erin's retry waited for Retry-After.
	reqs := b.userRequests(erin)
	if len(reqs) < 2 || reqs[0].Status != http.StatusTooManyRequests {
		t.Fatalf("erin's requests: %+v", reqs)
	}
	if gap := reqs[1].Time.Sub(reqs[0].Time); gap < time.Second {
		t.Errorf("retry after a 429 with Retry-After 1 came %s later", gap)
	}

	// Every item is in the history.
	outcomes, _, err := b.store.History(b.ctx, remediation.HistoryFilter{TenantID: b.tenant.ID(), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(outcomes) != 8 {
		t.Errorf("%d outcomes in the history, want 8", len(outcomes))
	}
	b.waitDrained(10 * time.Second)
}
