package main

import (
	"context"
	"flag"
	"io"
	"path/filepath"
	"strings"

	"github.com/entraremediator/remediator/internal/graphsim"
)

// runSimulator serves the Graph simulator with its demo tenant.
func runSimulator(ctx context.Context, cfg Config, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("simulator", flag.ContinueOnError)
	fs.SetOutput(out)
	caFile := fs.String("ca-file", filepath.Join(cfg.DataDir, "graphsim-ca.pem"), "where to write the simulator's CA certificate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var hosts []string
	if h := getenv("REMEDIATOR_SIMULATOR_HOSTS"); h != "" {
		hosts = strings.Split(h, ",")
	}
	return graphsim.Run(ctx, graphsim.Options{Addr: cfg.SimulatorAddr, Hosts: hosts, Logger: cfg.Logger()}, *caFile, out)
}
