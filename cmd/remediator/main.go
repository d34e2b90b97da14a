// Command remediator is Entra Remediator: one binary whose subcommand
// picks the role (run, api, worker, simulator, migrate, env).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/entraremediator/remediator/internal/tracing"
)

const usage = `usage: remediator <command>

commands:
  run        all-in-one with embedded defaults (API + worker + miniredis + SQLite + Graph simulator)
  api        the HTTP API (production; any number of replicas)
  worker     the asynq worker (production; any number of replicas)
  simulator  the Graph simulator with its demo tenant
  migrate    apply the history store's migrations and exit
  rotate-keys  re-seal every stored secret under the first REMEDIATOR_ENCRYPTION_KEYS key
  keys       keys create --name N --role viewer|operator|admin [--tenants ID,...]: bootstrap an API key
  env        print the effective configuration (secrets redacted) and the variables
`

func main() {
	tracing.SilenceGlobal()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "remediator:", err)
		os.Exit(1)
	}
}

// errUsage is returned for a missing or unknown command.
var errUsage = errors.New("unknown command (see usage)")

// Main runs one subcommand until ctx is done (a seam for end-to-end
// tests): getenv supplies the configuration, out gets what the command
// prints for a person, logs go to logOut.
func Main(ctx context.Context, args []string, getenv func(string) string, out, logOut io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(out, usage)
		return errUsage
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	cfg.logOut = logOut
	switch args[0] {
	case "run":
		return runAllInOne(ctx, cfg, out)
	case "api":
		return runAPI(ctx, cfg)
	case "worker":
		return runWorker(ctx, cfg)
	case "simulator":
		return runSimulator(ctx, cfg, args[1:], getenv, out)
	case "migrate":
		return runMigrate(ctx, cfg, out)
	case "rotate-keys":
		return runRotateKeys(ctx, cfg, out)
	case "keys":
		return runKeys(ctx, cfg, args[1:], out)
	case "env":
		fmt.Fprintln(out, cfg.Dump(getenv))
		fmt.Fprintln(out)
		fmt.Fprint(out, envTable())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(out, usage)
		return nil
	}
	fmt.Fprint(out, usage)
	return fmt.Errorf("%q: %w", args[0], errUsage)
}
