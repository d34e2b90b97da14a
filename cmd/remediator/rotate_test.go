package main

import (
	"context"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/history"
	"github.com/entraremediator/remediator/internal/secrets"
)

// TestRotateKeys re-seals the secrets under a new key; the old key can
// then be dropped and the service still acts on the tenant.
func TestRotateKeys(t *testing.T) {
	s := newStack(t, 1)
	tn := s.registerTenant(graphsim.TenantSpec{})
	u := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "r@" + tn.Domain(), AccountEnabled: true})
	old := s.env["REMEDIATOR_ENCRYPTION_KEYS"]
	newKey := hex.EncodeToString(secrets.NewKey())

	s.env["REMEDIATOR_ENCRYPTION_KEYS"] = newKey + "," + old
	var out strings.Builder
	if err := Main(context.Background(), []string{"rotate-keys"}, s.getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "re-sealed 1 tenant credentials") {
		t.Fatalf("rotate-keys said %q", out.String())
	}
	store, err := history.Open(context.Background(), s.env["REMEDIATOR_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	got, err := store.GetTenant(context.Background(), tn.ID())
	if err != nil {
		t.Fatal(err)
	}
	nk, _ := hex.DecodeString(newKey)
	if got.SecretKeyID != secrets.KeyID(nk) {
		t.Fatalf("tenant secret still under key %s", got.SecretKeyID)
	}
	// Restart with only the new key: the worker still authenticates.
	s.stop()
	s.env["REMEDIATOR_ENCRYPTION_KEYS"] = newKey
	s.start("api")
	s.start("worker")
	s.waitReady()
	job := s.submit(tn.ID(), "disable_user", []string{u.ID})
	if final := s.waitJob(job.ID, 60*time.Second); final.Counts["succeeded"] != 1 {
		t.Fatalf("after rotation: %+v", final)
	}
}
