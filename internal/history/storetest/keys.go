package storetest

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/remediation"
)

// newKey returns an API key with a fresh id and the hash of secret.
func newKey(name, secret string, role remediation.Role, tenants ...string) *remediation.APIKey {
	h := sha256.Sum256([]byte(secret))
	return &remediation.APIKey{ID: uuid.NewString(), Name: name, Prefix: secret[:min(8, len(secret))], Role: role,
		Tenants: tenants, CreatedBy: "bootstrap", Hash: h[:]}
}

func mustCreateKey(t testing.TB, s AccessStore, k *remediation.APIKey) *remediation.APIKey {
	t.Helper()
	if err := s.CreateAPIKey(t.Context(), k); err != nil {
		t.Fatalf("CreateAPIKey(%s): %v", k.Name, err)
	}
	return k
}

func mustKeyByHash(t testing.TB, s AccessStore, hash []byte) *remediation.APIKey {
	t.Helper()
	k, err := s.APIKeyByHash(t.Context(), hash)
	if err != nil {
		t.Fatalf("APIKeyByHash: %v", err)
	}
	return k
}

// sameTimePtr compares optional times at microsecond precision.
func sameTimePtr(got, want *time.Time) bool {
	if got == nil || want == nil {
		return got == nil && want == nil
	}
	return sameTime(*got, *want)
}

var keyTests = map[string]func(t *testing.T, s AccessStore){
	"CreateAndLookUp": func(t *testing.T, s AccessStore) {
		created := time.Date(2025, 6, 1, 8, 0, 0, 123456789, time.FixedZone("X", -7200))
		in := newKey("soc", "secret-one", remediation.RoleOperator, "t1", "t2")
		in.CreatedAt = created
		mustCreateKey(t, s, in)
		got := mustKeyByHash(t, s, in.Hash)
		if got.ID != in.ID || got.Name != "soc" || got.Prefix != "secret-o" || got.Role != remediation.RoleOperator ||
			!slices.Equal(got.Tenants, []string{"t1", "t2"}) || got.CreatedBy != "bootstrap" ||
			!bytes.Equal(got.Hash, in.Hash) || got.LastUsedAt != nil || got.RevokedAt != nil {
			t.Fatalf("APIKeyByHash = %+v, want %+v", got, in)
		}
		if !sameTime(got.CreatedAt, created) {
			t.Fatalf("CreatedAt = %v, want %v (UTC, µs)", got.CreatedAt, created)
		}
		all := mustCreateKey(t, s, newKey("admin", "secret-two", remediation.RoleAdmin))
		if got := mustKeyByHash(t, s, all.Hash); len(got.Tenants) != 0 || got.Role != remediation.RoleAdmin {
			t.Fatalf("unscoped key = %+v, want no tenants (all)", got)
		}
		other := sha256.Sum256([]byte("secret-three"))
		_, err := s.APIKeyByHash(t.Context(), other[:])
		wantCode(t, err, remediation.ENOTFOUND)
	},
	"CreateSetsCreatedAt": func(t *testing.T, s AccessStore) {
		before := time.Now().Add(-time.Second)
		k := mustCreateKey(t, s, newKey("k", "secret", remediation.RoleViewer))
		got := mustKeyByHash(t, s, k.Hash)
		if got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now().Add(time.Second)) {
			t.Fatalf("CreatedAt = %v, want now", got.CreatedAt)
		}
	},
	"HashComparedAsBytes": func(t *testing.T, s AccessStore) {
		k := newKey("bin", "x", remediation.RoleViewer)
		k.Hash = []byte{0, 0xff, 0, 'a', 0x80}
		mustCreateKey(t, s, k)
		if got := mustKeyByHash(t, s, []byte{0, 0xff, 0, 'a', 0x80}); got.ID != k.ID {
			t.Fatalf("APIKeyByHash = %s, want %s", got.ID, k.ID)
		}
		for _, h := range [][]byte{{0, 0xff, 0, 'a'}, {0, 0xff, 0, 'A', 0x80}, {0, 0xff, 0, 'a', 0x80, 0}} {
			_, err := s.APIKeyByHash(t.Context(), h)
			wantCode(t, err, remediation.ENOTFOUND)
		}
	},
	"DuplicateConflicts": func(t *testing.T, s AccessStore) {
		k := mustCreateKey(t, s, newKey("first", "secret-a", remediation.RoleViewer))
		sameID := newKey("second", "secret-b", remediation.RoleAdmin)
		sameID.ID = k.ID
		wantCode(t, s.CreateAPIKey(t.Context(), sameID), remediation.ECONFLICT)
		sameHash := newKey("third", "secret-a", remediation.RoleAdmin)
		wantCode(t, s.CreateAPIKey(t.Context(), sameHash), remediation.ECONFLICT)
		if err := s.RevokeAPIKey(t.Context(), k.ID); err != nil {
			t.Fatal(err)
		}
		// A revoked key's hash stays taken.
		wantCode(t, s.CreateAPIKey(t.Context(), newKey("fourth", "secret-a", remediation.RoleAdmin)), remediation.ECONFLICT)
		list, err := s.ListAPIKeys(t.Context())
		if err != nil || len(list) != 1 || list[0].Name != "first" || list[0].Role != remediation.RoleViewer {
			t.Fatalf("ListAPIKeys = %v, %v; want only the first key", list, err)
		}
	},
	"Invalid": func(t *testing.T, s AccessStore) {
		noHash := newKey("k", "secret", remediation.RoleViewer)
		noHash.Hash = nil
		wantCode(t, s.CreateAPIKey(t.Context(), noHash), remediation.EINVALID)
		wantCode(t, s.CreateAPIKey(t.Context(), newKey("k", "secret", "root")), remediation.EINVALID)
		if list, err := s.ListAPIKeys(t.Context()); err != nil || len(list) != 0 {
			t.Fatalf("ListAPIKeys = %v, %v; want none", list, err)
		}
	},
	"ListInCreationOrder": func(t *testing.T, s AccessStore) {
		if list, err := s.ListAPIKeys(t.Context()); err != nil || len(list) != 0 {
			t.Fatalf("empty store ListAPIKeys = %v, %v", list, err)
		}
		base := time.Now().Add(-time.Hour)
		var want []string
		for i, at := range []time.Duration{3, 1, 2} {
			k := newKey("k", "secret-"+string(rune('a'+i)), remediation.RoleViewer)
			k.CreatedAt = base.Add(at * time.Minute)
			mustCreateKey(t, s, k)
			want = append(want, k.ID)
		}
		want = []string{want[1], want[2], want[0]}
		if err := s.RevokeAPIKey(t.Context(), want[1]); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListAPIKeys(t.Context())
		if err != nil || len(list) != 3 {
			t.Fatalf("ListAPIKeys = %v, %v", list, err)
		}
		for i, k := range list {
			if k.ID != want[i] || (k.RevokedAt != nil) != (i == 1) {
				t.Fatalf("key %d = %s revoked %v; want %s, only the second revoked", i, k.ID, k.RevokedAt, want[i])
			}
		}
	},
	"Revoke": func(t *testing.T, s AccessStore) {
		k := mustCreateKey(t, s, newKey("k", "secret", remediation.RoleAdmin))
		keep := mustCreateKey(t, s, newKey("keep", "secret-2", remediation.RoleAdmin))
		before := time.Now().Add(-time.Second)
		if err := s.RevokeAPIKey(t.Context(), k.ID); err != nil {
			t.Fatalf("RevokeAPIKey: %v", err)
		}
		_, err := s.APIKeyByHash(t.Context(), k.Hash)
		wantCode(t, err, remediation.ENOTFOUND)
		mustKeyByHash(t, s, keep.Hash)
		revokedAt := func() *time.Time {
			list, err := s.ListAPIKeys(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range list {
				if l.ID == k.ID {
					return l.RevokedAt
				}
			}
			t.Fatalf("revoked key missing from ListAPIKeys")
			return nil
		}
		first := revokedAt()
		if first == nil || first.Before(before) || first.After(time.Now().Add(time.Second)) {
			t.Fatalf("RevokedAt = %v, want now", first)
		}
		if err := s.RevokeAPIKey(t.Context(), k.ID); err != nil {
			t.Fatalf("revoking again: %v, want no-op", err)
		}
		if again := revokedAt(); !sameTimePtr(again, first) {
			t.Fatalf("RevokedAt moved from %v to %v", first, again)
		}
		wantCode(t, s.RevokeAPIKey(t.Context(), "nope"), remediation.ENOTFOUND)
	},
	"Touch": func(t *testing.T, s AccessStore) {
		k := mustCreateKey(t, s, newKey("k", "secret", remediation.RoleViewer))
		at := time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC)
		for _, tc := range []struct {
			touch time.Time
			want  time.Time
		}{
			{at, at},
			{at.Add(-time.Minute), at}, // never backwards
			{at.Add(time.Hour), at.Add(time.Hour)},
		} {
			if err := s.TouchAPIKey(t.Context(), k.ID, tc.touch); err != nil {
				t.Fatalf("TouchAPIKey(%v): %v", tc.touch, err)
			}
			if got := mustKeyByHash(t, s, k.Hash).LastUsedAt; !sameTimePtr(got, &tc.want) {
				t.Fatalf("after touch at %v LastUsedAt = %v, want %v", tc.touch, got, tc.want)
			}
		}
		wantCode(t, s.TouchAPIKey(t.Context(), "nope", at), remediation.ENOTFOUND)
	},
}
