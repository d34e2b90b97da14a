package main

import (
	"context"
	"fmt"
	"io"

	"github.com/entraremediator/remediator/internal/history"
	"github.com/entraremediator/remediator/internal/secrets"
)

// runRotateKeys re-seals every tenant credential and webhook secret under
// the current encryption key (the first of REMEDIATOR_ENCRYPTION_KEYS).
// Run it after putting the new key first and keeping the old ones after
// it; then the old keys can be dropped. Safe to run again: a secret
// already under the current key is left alone.
func runRotateKeys(ctx context.Context, cfg Config, out io.Writer) error {
	box, err := secretBox(cfg, false)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	tenants, hooks, err := reseal(ctx, store, box)
	fmt.Fprintf(out, "re-sealed %d tenant credentials and %d webhook secrets under key %s\n", tenants, hooks, box.CurrentKeyID())
	return err
}

func reseal(ctx context.Context, store *history.Store, box *secrets.Box) (tenants, hooks int, err error) {
	ts, err := store.ListTenants(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, t := range ts {
		if t.SecretKeyID == box.CurrentKeyID() || len(t.SecretCiphertext) == 0 {
			continue
		}
		plain, err := box.Open(t.SecretCiphertext, t.SecretKeyID)
		if err != nil {
			return tenants, hooks, fmt.Errorf("tenant %s: %w", t.ID, err)
		}
		if t.SecretCiphertext, t.SecretKeyID, err = box.Seal(plain); err != nil {
			return tenants, hooks, err
		}
		if err := store.UpdateTenant(ctx, t); err != nil {
			return tenants, hooks, err
		}
		tenants++
	}
	ws, err := store.ListWebhooks(ctx, "")
	if err != nil {
		return tenants, hooks, err
	}
	for _, w := range ws {
		if w.SecretKeyID == box.CurrentKeyID() || len(w.SecretCiphertext) == 0 {
			continue
		}
		plain, err := box.Open(w.SecretCiphertext, w.SecretKeyID)
		if err != nil {
			return tenants, hooks, fmt.Errorf("webhook %s: %w", w.ID, err)
		}
		ct, kid, err := box.Seal(plain)
		if err != nil {
			return tenants, hooks, err
		}
		if err := store.ResealWebhookSecret(ctx, w.ID, ct, kid); err != nil {
			return tenants, hooks, err
		}
		hooks++
	}
	return tenants, hooks, nil
}
