package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/entraremediator/remediator/api"
	"github.com/entraremediator/remediator/internal/remediation"
)

// runKeys implements `remediator keys create --name N --role R [--tenants a,b]`:
// it bootstraps API keys straight in the history store and prints the
// secret once.
func runKeys(ctx context.Context, cfg Config, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: remediator keys create --name NAME --role viewer|operator|admin [--tenants ID,ID]")
	}
	fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
	fs.SetOutput(out)
	name := fs.String("name", "", "a name for the key (shown in listings and the audit log)")
	role := fs.String("role", string(remediation.RoleAdmin), "viewer, operator or admin")
	tenants := fs.String("tenants", "", "comma-separated tenant ids the key is limited to (empty: all tenants)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *name == "" {
		return errors.New("keys create: --name is required")
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	var scope []string
	for _, t := range strings.Split(*tenants, ",") {
		if t = strings.TrimSpace(t); t != "" {
			scope = append(scope, strings.ToLower(t))
		}
	}
	k, secret, err := api.CreateKey(ctx, store, *name, remediation.Role(*role), scope, "cli")
	if err != nil {
		return fmt.Errorf("keys create: %s", remediation.ErrorMessage(err))
	}
	fmt.Fprintf(out, "key %s (%s, role %s) created; its secret is shown once:\n%s\n", k.ID, k.Name, k.Role, secret)
	return nil
}
