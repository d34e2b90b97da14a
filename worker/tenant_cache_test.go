package worker_test

import (
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
)

// Workers cache tenants for a second, but a committed change (here a
// protected identity added) reaches the very next item: the store
// announces it and every worker drops its copy.
func TestTenantChangeReachesTheNextItem(t *testing.T) {
	b := setup(t, options{})
	alice := b.addUser(graphsim.UserSpec{UserPrincipalName: "alice@contoso.com", AccountEnabled: true})
	bob := b.addUser(graphsim.UserSpec{UserPrincipalName: "bob@contoso.com", AccountEnabled: true})
	first := b.submit(remediation.ActionDisableUser, "urgent", alice.UserPrincipalName)
	b.waitJob(first.ID, 20*time.Second) // the worker now holds the tenant
	start := time.Now()
	if _, err := b.store.UpdateTenantSettings(b.ctx, b.tenant.ID(),
		remediation.TenantSettings{ProtectedIdentities: []string{bob.ID}}); err != nil {
		t.Fatal(err)
	}
	second := b.submit(remediation.ActionDisableUser, "urgent", bob.UserPrincipalName)
	b.waitJob(second.ID, 20*time.Second)
	item, _ := b.item(second.ID, bob.UserPrincipalName)
	if u, _ := b.tenant.User(bob.ID); item.Status != remediation.ItemSkipped || !u.AccountEnabled {
		t.Fatalf("bob's item %s (%+v), enabled %v: the worker used the tenant as it was before the change", item.Status, item.Error, u.AccountEnabled)
	}
	t.Logf("second item done %s after the change", time.Since(start).Round(time.Millisecond))
}
