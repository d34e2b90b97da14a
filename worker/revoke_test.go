package worker_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
)

func TestRevokeSessionsSkipsGuests(t *testing.T) {
	b := setup(t, options{})
	alice := b.addUser(graphsim.UserSpec{UserPrincipalName: "alice@contoso.com", AccountEnabled: true})
	bob := b.addUser(graphsim.UserSpec{UserPrincipalName: "bob@contoso.com", AccountEnabled: false})
	guest := b.addUser(graphsim.UserSpec{UserPrincipalName: "eve_fabrikam.com#EXT#@contoso.onmicrosoft.com", UserType: "Guest", AccountEnabled: true})

	job := b.submit(remediation.ActionRevokeSessions, "bulk", alice.UserPrincipalName, bob.ID, guest.UserPrincipalName)
	job = b.waitJob(job.ID, 20*time.Second)
	if job.Status != remediation.JobCompleted || job.Counts[remediation.ItemSucceeded] != 2 || job.Counts[remediation.ItemSkipped] != 1 {
		t.Fatalf("job %s counts %v, want completed with 2 succeeded and 1 skipped", job.Status, job.Counts)
	}
	for _, c := range []struct {
		user     graphsim.UserState
		identity string
		status   remediation.ItemStatus
		detail   string
		revoked  int
	}{
		{alice, alice.UserPrincipalName, remediation.ItemSucceeded, "sessions revoked", 1},
		{bob, bob.ID, remediation.ItemSucceeded, "sessions revoked", 1},
		{guest, guest.UserPrincipalName, remediation.ItemSkipped, "guest user: sessions are not revoked", 0},
	} {
		it, _ := b.item(job.ID, c.identity)
		if it.Status != c.status || it.Detail != c.detail || it.ObjectID != c.user.ID || it.Attempts != 1 {
			t.Errorf("%s: item %s %q object %q attempts %d, want %s %q %s 1", c.identity, it.Status, it.Detail, it.ObjectID, it.Attempts, c.status, c.detail, c.user.ID)
		}
		st, _ := b.tenant.User(c.user.ID)
		if st.RevokedCount != c.revoked {
			t.Errorf("%s: revoked %d times, want %d", c.identity, st.RevokedCount, c.revoked)
		}
		if got := countOps(b.userRequests(c.user), http.MethodPost); got != c.revoked {
			t.Errorf("%s: %d POSTs, want %d", c.identity, got, c.revoked)
		}
		if st.PatchCount != 0 {
			t.Errorf("%s: revoke patched the user", c.identity)
		}
	}
}
