package history_test

import (
	"context"
	"slices"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Every committed change of a tenant is reported once; failed ones are not.
func TestTenantChangedHook(t *testing.T) {
	s := openSQLite(t)
	ctx := t.Context()
	var got []string
	s.TenantChanged = func(_ context.Context, id string) { got = append(got, id) }
	tn := &remediation.Tenant{ID: "t1", DisplayName: "Contoso", ClientID: "c", SecretCiphertext: []byte("sealed")}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateTenantSettings(ctx, "t1", remediation.TenantSettings{ProtectedIdentities: []string{"bg"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPolicyRef(ctx, "t1", remediation.PolicyMFA, remediation.PolicyRef{PolicyID: "p"}); err != nil {
		t.Fatal(err)
	}
	tn.DisplayName = "Contoso Ltd"
	if err := s.UpdateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateTenantSettings(ctx, "nope", remediation.TenantSettings{}); err == nil {
		t.Fatal("settings of an unknown tenant were updated")
	}
	if err := s.DeleteTenant(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"t1", "t1", "t1", "t1"}; !slices.Equal(got, want) {
		t.Fatalf("reported %q, want %q (settings, policy ref, update, delete)", got, want)
	}
}
