package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

var defaultSettings = remediation.TenantSettings{}.WithDefaults()

// wantSettings fails unless got equals want (ProtectedIdentities non-nil).
func wantSettings(t testing.TB, got, want remediation.TenantSettings) {
	t.Helper()
	if got.ProtectedIdentities == nil || !slices.Equal(got.ProtectedIdentities, want.ProtectedIdentities) ||
		got.MFAPolicyState != want.MFAPolicyState || got.MFATargeting != want.MFATargeting {
		t.Fatalf("settings = %+v, want %+v", got, want)
	}
}

func mustGetTenant(t testing.TB, s remediation.Store, id string) *remediation.Tenant {
	t.Helper()
	tn, err := s.GetTenant(t.Context(), id)
	if err != nil {
		t.Fatalf("GetTenant(%s): %v", id, err)
	}
	return tn
}

var settingsTests = map[string]func(t *testing.T, s remediation.Store){
	"DefaultsWhenUnset": func(t *testing.T, s remediation.Store) {
		mustTenant(t, s, "t1")
		got := mustGetTenant(t, s, "t1")
		wantSettings(t, got.Settings, defaultSettings)
		if got.Settings.MFAPolicyState != remediation.MFAPolicyEnabled || got.Settings.MFATargeting != remediation.MFATargetUsers {
			t.Fatalf("defaults = %+v", got.Settings)
		}
		if len(got.Policies) != 0 {
			t.Fatalf("Policies = %v, want none", got.Policies)
		}
		list, err := s.ListTenants(t.Context())
		if err != nil || len(list) != 1 {
			t.Fatalf("ListTenants = %v, %v", list, err)
		}
		wantSettings(t, list[0].Settings, defaultSettings)
	},
	"CreateStoresSettings": func(t *testing.T, s remediation.Store) {
		in := remediation.TenantSettings{ProtectedIdentities: []string{"bg-1", "bg-2"}, MFATargeting: remediation.MFATargetGroup}
		if err := s.CreateTenant(t.Context(), &remediation.Tenant{ID: "t1", Settings: in}); err != nil {
			t.Fatal(err)
		}
		// Empty fields come back with their defaults.
		wantSettings(t, mustGetTenant(t, s, "t1").Settings, remediation.TenantSettings{ProtectedIdentities: []string{"bg-1", "bg-2"},
			MFAPolicyState: remediation.MFAPolicyEnabled, MFATargeting: remediation.MFATargetGroup})
	},
	"GraphLimitsAloneAreStored": func(t *testing.T, s remediation.Store) {
		in := remediation.TenantSettings{GraphLimits: &remediation.GraphLimits{Writes: 30, WritesWindowS: 15}}
		if err := s.CreateTenant(t.Context(), &remediation.Tenant{ID: "t1", Settings: in}); err != nil {
			t.Fatal(err)
		}
		if got := mustGetTenant(t, s, "t1").Settings.GraphLimits; got == nil || *got != *in.GraphLimits {
			t.Fatalf("graph_limits after create = %+v, want %+v", got, in.GraphLimits)
		}
		mustTenant(t, s, "t2")
		if _, err := s.UpdateTenantSettings(t.Context(), "t2", in); err != nil {
			t.Fatal(err)
		}
		if got := mustGetTenant(t, s, "t2").Settings.GraphLimits; got == nil || *got != *in.GraphLimits {
			t.Fatalf("graph_limits after update = %+v, want %+v", got, in.GraphLimits)
		}
	},
	"UpdateSettings": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		orig := mustTenant(t, s, "t1")
		mustTenant(t, s, "t2")
		in := remediation.TenantSettings{ProtectedIdentities: []string{"bg-1"}, MFAPolicyState: remediation.MFAPolicyReportOnly,
			MFATargeting: remediation.MFATargetGroup}
		got, err := s.UpdateTenantSettings(ctx, "t1", in)
		if err != nil {
			t.Fatalf("UpdateTenantSettings: %v", err)
		}
		wantSettings(t, got.Settings, in)
		if got.ID != "t1" || got.DisplayName != orig.DisplayName || string(got.SecretCiphertext) != "sealed:t1" ||
			got.UpdatedAt.Before(got.CreatedAt) {
			t.Fatalf("returned tenant = %+v", got)
		}
		wantSettings(t, mustGetTenant(t, s, "t1").Settings, in)
		wantSettings(t, mustGetTenant(t, s, "t2").Settings, defaultSettings)
		// Clearing goes back to the defaults.
		got, err = s.UpdateTenantSettings(ctx, "t1", remediation.TenantSettings{})
		if err != nil {
			t.Fatal(err)
		}
		wantSettings(t, got.Settings, defaultSettings)
		wantSettings(t, mustGetTenant(t, s, "t1").Settings, defaultSettings)
	},
	"UpdateSettingsMissing": func(t *testing.T, s remediation.Store) {
		_, err := s.UpdateTenantSettings(t.Context(), "nope", remediation.TenantSettings{MFATargeting: remediation.MFATargetGroup})
		wantCode(t, err, remediation.ENOTFOUND)
	},
	"UpdateTenantKeepsSettingsAndPolicies": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		mustTenant(t, s, "t1")
		in := remediation.TenantSettings{ProtectedIdentities: []string{"bg-1"}, MFAPolicyState: remediation.MFAPolicyReportOnly,
			MFATargeting: remediation.MFATargetGroup}
		if _, err := s.UpdateTenantSettings(ctx, "t1", in); err != nil {
			t.Fatal(err)
		}
		ref := remediation.PolicyRef{PolicyID: "pol-1", GroupID: "grp-1"}
		if err := s.SetPolicyRef(ctx, "t1", remediation.PolicyMFA, ref); err != nil {
			t.Fatal(err)
		}
		// A credentials update carries no settings nor policies.
		if err := s.UpdateTenant(ctx, &remediation.Tenant{ID: "t1", DisplayName: "Renamed", ClientID: "app-2",
			Cloud: remediation.CloudPublic, SecretCiphertext: []byte("new"), SecretKeyID: "k2"}); err != nil {
			t.Fatal(err)
		}
		got := mustGetTenant(t, s, "t1")
		if got.DisplayName != "Renamed" || string(got.SecretCiphertext) != "new" {
			t.Fatalf("update not applied: %+v", got)
		}
		wantSettings(t, got.Settings, in)
		if got.Policies[remediation.PolicyMFA] != ref || len(got.Policies) != 1 {
			t.Fatalf("Policies = %v, want %s: %+v", got.Policies, remediation.PolicyMFA, ref)
		}
	},
	"SetPolicyRef": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		mustTenant(t, s, "t1")
		mustTenant(t, s, "t2")
		mfa := remediation.PolicyRef{PolicyID: "pol-mfa"}
		prm := remediation.PolicyRef{PolicyID: "pol-prm", GroupID: "grp-prm"}
		for _, step := range []struct {
			kind remediation.PolicyKind
			ref  remediation.PolicyRef
		}{
			{remediation.PolicyMFA, remediation.PolicyRef{PolicyID: "old"}},
			{remediation.PolicyPhishingResistantMFA, prm},
			{remediation.PolicyMFA, mfa}, // replaces
		} {
			if err := s.SetPolicyRef(ctx, "t1", step.kind, step.ref); err != nil {
				t.Fatalf("SetPolicyRef(%s): %v", step.kind, err)
			}
		}
		want := map[remediation.PolicyKind]remediation.PolicyRef{remediation.PolicyMFA: mfa, remediation.PolicyPhishingResistantMFA: prm}
		got := mustGetTenant(t, s, "t1")
		if fmt.Sprint(got.Policies) != fmt.Sprint(want) {
			t.Fatalf("GetTenant Policies = %v, want %v", got.Policies, want)
		}
		list, err := s.ListTenants(ctx)
		if err != nil || len(list) != 2 || list[0].ID != "t1" || list[1].ID != "t2" {
			t.Fatalf("ListTenants = %v, %v; want t1, t2 once each", list, err)
		}
		if fmt.Sprint(list[0].Policies) != fmt.Sprint(want) || len(list[1].Policies) != 0 {
			t.Fatalf("ListTenants Policies = %v / %v, want %v / none", list[0].Policies, list[1].Policies, want)
		}
		wantCode(t, s.SetPolicyRef(ctx, "nope", remediation.PolicyMFA, mfa), remediation.ENOTFOUND)
	},
	"ConcurrentPolicyAndSettingsWrites": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		mustTenant(t, s, "t1")
		const rounds = 25
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		record := func(err error) {
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}
		start := make(chan struct{})
		for _, kind := range []remediation.PolicyKind{remediation.PolicyMFA, remediation.PolicyPhishingResistantMFA} {
			wg.Go(func() {
				<-start
				for i := range rounds {
					record(s.SetPolicyRef(ctx, "t1", kind, remediation.PolicyRef{PolicyID: fmt.Sprintf("%s-%d", kind, i)}))
				}
			})
		}
		wg.Go(func() {
			<-start
			for i := range rounds {
				_, err := s.UpdateTenantSettings(ctx, "t1", remediation.TenantSettings{ProtectedIdentities: []string{fmt.Sprint("bg-", i)}})
				record(err)
			}
		})
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("%d errors, first: %v", len(errs), errs[0])
		}
		// Each writer owns its value: the last write of each must be there.
		got := mustGetTenant(t, s, "t1")
		wantSettings(t, got.Settings, remediation.TenantSettings{ProtectedIdentities: []string{fmt.Sprint("bg-", rounds-1)},
			MFAPolicyState: remediation.MFAPolicyEnabled, MFATargeting: remediation.MFATargetUsers})
		for _, kind := range []remediation.PolicyKind{remediation.PolicyMFA, remediation.PolicyPhishingResistantMFA} {
			if want := fmt.Sprintf("%s-%d", kind, rounds-1); got.Policies[kind].PolicyID != want {
				t.Fatalf("Policies[%s] = %+v, want policy %s", kind, got.Policies[kind], want)
			}
		}
	},
}
