package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

var tenantTests = map[string]func(t *testing.T, s remediation.Store){
	"CreateGetRoundTrip": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		created := time.Date(2025, 3, 4, 5, 6, 7, 891234567, time.FixedZone("CET", 3600))
		in := &remediation.Tenant{ID: "11111111-2222-3333-4444-555555555555", DisplayName: "Contoso",
			ClientID: "app-1", Cloud: remediation.CloudCustom, GraphEndpoint: "https://graph.example/v1.0",
			AuthorityHost: "https://login.example/", CreatedAt: created, UpdatedAt: created.Add(time.Second),
			SecretCiphertext: []byte{0, 1, 2, 0xff, 'x'}, SecretKeyID: "key-2025"}
		if err := s.CreateTenant(ctx, in); err != nil {
			t.Fatalf("CreateTenant: %v", err)
		}
		got, err := s.GetTenant(ctx, in.ID)
		if err != nil {
			t.Fatalf("GetTenant: %v", err)
		}
		if got.ID != in.ID || got.DisplayName != in.DisplayName || got.ClientID != in.ClientID ||
			got.Cloud != in.Cloud || got.GraphEndpoint != in.GraphEndpoint || got.AuthorityHost != in.AuthorityHost ||
			got.SecretKeyID != in.SecretKeyID || !bytes.Equal(got.SecretCiphertext, in.SecretCiphertext) {
			t.Fatalf("GetTenant = %+v, want %+v", got, in)
		}
		if !sameTime(got.CreatedAt, created) || !sameTime(got.UpdatedAt, created.Add(time.Second)) {
			t.Fatalf("times = %v / %v, want %v / %v (UTC, µs)", got.CreatedAt, got.UpdatedAt, created, created.Add(time.Second))
		}
	},
	"CreateSetsTimes": func(t *testing.T, s remediation.Store) {
		before := time.Now().Add(-time.Second)
		mustTenant(t, s, "t1")
		after := time.Now().Add(time.Second)
		got, err := s.GetTenant(t.Context(), "t1")
		if err != nil {
			t.Fatal(err)
		}
		if got.CreatedAt.Before(before) || got.CreatedAt.After(after) || got.UpdatedAt.Before(got.CreatedAt) {
			t.Fatalf("CreatedAt %v UpdatedAt %v; want both set to now", got.CreatedAt, got.UpdatedAt)
		}
	},
	"CreateDuplicateConflicts": func(t *testing.T, s remediation.Store) {
		mustTenant(t, s, "t1")
		err := s.CreateTenant(t.Context(), &remediation.Tenant{ID: "t1", DisplayName: "again"})
		wantCode(t, err, remediation.ECONFLICT)
		got, err := s.GetTenant(t.Context(), "t1")
		if err != nil || got.DisplayName != "Tenant t1" {
			t.Fatalf("after conflict GetTenant = %+v, %v; want the original", got, err)
		}
	},
	"GetMissing": func(t *testing.T, s remediation.Store) {
		_, err := s.GetTenant(t.Context(), "nope")
		wantCode(t, err, remediation.ENOTFOUND)
	},
	"Update": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		orig := mustTenant(t, s, "t1")
		mustTenant(t, s, "t2")
		upd := &remediation.Tenant{ID: "t1", DisplayName: "Renamed", ClientID: "app-2", Cloud: remediation.CloudUSGov,
			SecretCiphertext: []byte("new-sealed"), SecretKeyID: "k2"}
		if err := s.UpdateTenant(ctx, upd); err != nil {
			t.Fatalf("UpdateTenant: %v", err)
		}
		got, err := s.GetTenant(ctx, "t1")
		if err != nil {
			t.Fatal(err)
		}
		if got.DisplayName != "Renamed" || got.ClientID != "app-2" || got.Cloud != remediation.CloudUSGov ||
			string(got.SecretCiphertext) != "new-sealed" || got.SecretKeyID != "k2" {
			t.Fatalf("after update = %+v", got)
		}
		if !got.CreatedAt.Equal(orig.CreatedAt.Truncate(time.Microsecond)) {
			t.Fatalf("CreatedAt changed: %v → %v", orig.CreatedAt, got.CreatedAt)
		}
		if got.UpdatedAt.Before(got.CreatedAt) {
			t.Fatalf("UpdatedAt %v before CreatedAt %v", got.UpdatedAt, got.CreatedAt)
		}
		other, err := s.GetTenant(ctx, "t2")
		if err != nil || other.DisplayName != "Tenant t2" {
			t.Fatalf("other tenant changed: %+v, %v", other, err)
		}
	},
	"UpdateMissing": func(t *testing.T, s remediation.Store) {
		err := s.UpdateTenant(t.Context(), &remediation.Tenant{ID: "nope", DisplayName: "x"})
		wantCode(t, err, remediation.ENOTFOUND)
	},
	"ListOrderedByID": func(t *testing.T, s remediation.Store) {
		list, err := s.ListTenants(t.Context())
		if err != nil || len(list) != 0 {
			t.Fatalf("empty store ListTenants = %v, %v", list, err)
		}
		for _, id := range []string{"c", "a", "b"} {
			mustTenant(t, s, id)
		}
		list, err = s.ListTenants(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, tn := range list {
			ids = append(ids, tn.ID)
		}
		if len(ids) != 3 || ids[0] != "a" || ids[1] != "b" || ids[2] != "c" {
			t.Fatalf("ListTenants ids = %v, want [a b c]", ids)
		}
		if string(list[0].SecretCiphertext) != "sealed:a" {
			t.Fatalf("ListTenants secret = %q", list[0].SecretCiphertext)
		}
	},
	"Ping": func(t *testing.T, s remediation.Store) {
		if err := s.Ping(context.Background()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	},
}
