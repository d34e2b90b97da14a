package main

import (
	"context"
	"fmt"
	"io"
)

// runMigrate applies the history store's migrations and exits.
func runMigrate(ctx context.Context, cfg Config, out io.Writer) error {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "history store migrated (%s)\n", store.Dialect())
	return nil
}
