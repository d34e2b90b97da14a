// Package storetest is the contract suite of remediation.Store and
// remediation.AccessStore: every implementation (PostgreSQL, SQLite,
// fakes) must pass Run, and RunAccess when it keeps API keys, the audit
// log and webhooks.
package storetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Run runs the contract suite. open must return a new, empty store for
// each call; it is called once per subtest.
func Run(t *testing.T, open func(t *testing.T) remediation.Store) {
	groups := []struct {
		name  string
		tests map[string]func(t *testing.T, s remediation.Store)
	}{
		{"Tenants", tenantTests},
		{"Jobs", jobTests},
		{"Items", itemTests},
		{"Transitions", transitionTests},
		{"Cancel", cancelTests},
		{"History", historyTests},
		{"Pagination", paginationTests},
		{"Settings", settingsTests},
		{"DerivedJobs", derivedTests},
		{"PolicyRequests", policyRequestTests},
		{"Scopes", scopeTests},
	}
	for _, g := range groups {
		runGroup(t, g.name, g.tests, open)
	}
}

// AccessStore is a store that also keeps API keys, the audit log and
// webhooks, and deletes tenants.
type AccessStore interface {
	remediation.Store
	remediation.AccessStore
}

// RunAccess runs the contract suite of remediation.AccessStore. open must
// return a new, empty store for each call; it is called once per subtest.
func RunAccess(t *testing.T, open func(t *testing.T) AccessStore) {
	groups := []struct {
		name  string
		tests map[string]func(t *testing.T, s AccessStore)
	}{
		{"APIKeys", keyTests},
		{"Audit", auditTests},
		{"Webhooks", webhookTests},
		{"TenantDelete", tenantDeleteTests},
	}
	for _, g := range groups {
		runGroup(t, g.name, g.tests, open)
	}
}

// runGroup runs the tests of a group in name order, each on a new store.
func runGroup[S any](t *testing.T, name string, tests map[string]func(t *testing.T, s S), open func(t *testing.T) S) {
	t.Run(name, func(t *testing.T) {
		for _, name := range slices.Sorted(maps.Keys(tests)) {
			t.Run(name, func(t *testing.T) {
				tests[name](t, open(t))
			})
		}
	})
}

// mustTenant creates a tenant with the given id.
func mustTenant(t testing.TB, s remediation.Store, id string) *remediation.Tenant {
	t.Helper()
	tn := &remediation.Tenant{ID: id, DisplayName: "Tenant " + id, ClientID: uuid.NewString(), Cloud: remediation.CloudPublic,
		SecretCiphertext: []byte("sealed:" + id), SecretKeyID: "k1"}
	if err := s.CreateTenant(context.Background(), tn); err != nil {
		t.Fatalf("CreateTenant(%s): %v", id, err)
	}
	return tn
}

// newJob returns a job request for tenant with a fresh id.
func newJob(tenant string, action remediation.Action) *remediation.Job {
	return &remediation.Job{
		ID: uuid.NewString(), TenantID: tenant, Action: action, Status: remediation.JobQueued,
		Reason: "risky sign-ins", RequestedBy: "soc@contoso.com", Actor: "api-key:soc", Priority: "urgent",
		CreatedAt: time.Now().UTC(),
	}
}

// identities returns n distinct normalized UPNs.
func identities(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%06d@contoso.com", prefix, i)
	}
	return ids
}

// mustCreate stores job with identities and fails unless it was created.
func mustCreate(t testing.TB, s remediation.Store, job *remediation.Job, ids []string) *remediation.Job {
	t.Helper()
	stored, created, err := s.CreateJob(context.Background(), job, ids)
	if err != nil {
		t.Fatalf("CreateJob(%s): %v", job.ID, err)
	}
	if !created {
		t.Fatalf("CreateJob(%s): created = false", job.ID)
	}
	return stored
}

// mustJob creates a job of n identities for tenant (created if needed).
func mustJob(t testing.TB, s remediation.Store, tenant string, n int) *remediation.Job {
	t.Helper()
	if _, err := s.GetTenant(context.Background(), tenant); remediation.ErrorCode(err) == remediation.ENOTFOUND {
		mustTenant(t, s, tenant)
	}
	return mustCreate(t, s, newJob(tenant, remediation.ActionDisableUser), identities("u", n))
}

// wantCode fails unless err carries the domain error code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := remediation.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

// mustTransition applies tr and fails unless it happened.
func mustTransition(t testing.TB, s remediation.Store, tr remediation.Transition) *remediation.Item {
	t.Helper()
	it, ok, err := s.TransitionItem(context.Background(), tr)
	if err != nil {
		t.Fatalf("TransitionItem(%d %v→%s): %v", tr.Seq, tr.From, tr.To, err)
	}
	if !ok {
		t.Fatalf("TransitionItem(%d %v→%s): not applied, item is %s", tr.Seq, tr.From, tr.To, it.Status)
	}
	return it
}

// finish moves item seq of job from pending through running to status.
func finish(t testing.TB, s remediation.Store, jobID string, seq int, status remediation.ItemStatus) *remediation.Item {
	t.Helper()
	mustTransition(t, s, remediation.Transition{JobID: jobID, Seq: seq, To: remediation.ItemRunning,
		From: []remediation.ItemStatus{remediation.ItemPending}, CountAttempt: true})
	return mustTransition(t, s, remediation.Transition{JobID: jobID, Seq: seq, To: status,
		From: []remediation.ItemStatus{remediation.ItemRunning}, Detail: "done: " + string(status)})
}

func mustGetJob(t testing.TB, s remediation.Store, id string) *remediation.Job {
	t.Helper()
	j, err := s.GetJob(context.Background(), id)
	if err != nil {
		t.Fatalf("GetJob(%s): %v", id, err)
	}
	return j
}

// wantCounts compares a job's counts with want (statuses not in want must
// be zero).
func wantCounts(t testing.TB, j *remediation.Job, want map[remediation.ItemStatus]int) {
	t.Helper()
	for _, st := range remediation.ItemStatuses {
		if j.Counts[st] != want[st] {
			t.Fatalf("job %s counts = %v, want %v", j.ID, j.Counts, want)
		}
	}
}

// sameTime reports whether got is want at microsecond precision, in UTC.
func sameTime(got, want time.Time) bool {
	return got.Location() == time.UTC && got.Equal(want.Truncate(time.Microsecond))
}
