package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/internal/telemetry"
	"github.com/entraremediator/remediator/internal/tracing"
)

// runAllInOne is `make run`: API + worker in one process, with embedded
// Redis (unless REMEDIATOR_REDIS_URL), SQLite (unless
// REMEDIATOR_DATABASE_URL) and the Graph simulator serving a demo tenant.
func runAllInOne(ctx context.Context, cfg Config, out io.Writer) error {
	log := cfg.Logger()
	if cfg.HTTPAddr == defaultHTTPAddr {
		cfg.HTTPAddr = "127.0.0.1:8080"
	}
	generatedKey := cfg.APIKey == ""
	if generatedKey {
		cfg.APIKey = newAPIKey()
	}
	tp, stopTracing, err := setupTracing(ctx, cfg, tracing.ServiceAll, log)
	if err != nil {
		return err
	}
	defer stopTracing()

	var ropt asynq.RedisConnOpt
	redisDesc := cfg.RedisURL
	if cfg.RedisURL == "" {
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return fmt.Errorf("embedded redis: %w", err)
		}
		defer mr.Close()
		ropt = asynq.RedisClientOpt{Addr: mr.Addr()}
		redisDesc = "embedded miniredis at " + mr.Addr() + " (in memory)"
	} else {
		if ropt, err = redisOpt(cfg.RedisURL); err != nil {
			return err
		}
		redisDesc = "REMEDIATOR_REDIS_URL"
	}

	box, err := secretBox(cfg, true)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	sim, err := graphsim.New(graphsim.Options{Addr: cfg.SimulatorAddr, Logger: log})
	if err != nil {
		return err
	}
	demo := sim.AddTenant(graphsim.DemoTenantSpec())
	demo.SeedDemo(cfg.DemoUsers)
	if err := sim.Start(); err != nil {
		return fmt.Errorf("graph simulator: %w", err)
	}
	defer sim.Close()
	if err := registerDemoTenant(ctx, store, box, sim); err != nil {
		return err
	}

	metrics := telemetry.New().WithQueue(ropt)
	q := newQueue(cfg, ropt)
	defer q.Close()
	dirs, err := newConnector(cfg, box, nil, sim.CACertPEM(), tp, log)
	if err != nil {
		return err
	}
	w, wclose, err := newWorker(cfg, ropt, store, box, q, dirs, metrics, tp, log)
	if err != nil {
		return err
	}
	defer wclose.Close()
	rdb := ropt.MakeRedisClient().(redis.UniversalClient)
	defer rdb.Close()
	srv := newAPI(cfg, store, q, box, apiExtras{
		limiter:  newRedisRateLimiter(rdb, cfg.APIRateLimit),
		verifier: dirs,
		metrics:  metrics,
		tracer:   tp,
	}, log)
	if err := srv.Start(cfg.HTTPAddr); err != nil {
		return err
	}
	workerDone := make(chan error, 1)
	go func() { workerDone <- w.Run(ctx) }()

	printBanner(out, bannerInfo{
		addr: srv.Addr(), key: cfg.APIKey, generatedKey: generatedKey, redis: redisDesc,
		store: storeDesc(cfg), sim: sim, demo: demo,
	})
	log.Info("remediator running", slog.String("api", srv.Addr()), slog.String("graph_simulator", sim.URL()))

	var werr error
	select {
	case <-ctx.Done():
		werr = <-workerDone
	case werr = <-workerDone:
		if werr == nil {
			werr = errors.New("worker stopped unexpectedly")
		}
	}
	aerr := shutdownAPI(srv, cfg)
	fmt.Fprintln(out, "remediator stopped")
	return errors.Join(werr, aerr)
}

// registerDemoTenant stores (or refreshes the endpoints of) the demo
// tenant served by the simulator: its port changes from run to run.
func registerDemoTenant(ctx context.Context, store remediation.Store, box remediation.SecretBox, sim *graphsim.Server) error {
	ct, kid, err := box.Seal([]byte(graphsim.DemoClientSecret))
	if err != nil {
		return err
	}
	t := &remediation.Tenant{
		ID: graphsim.DemoTenantID(), DisplayName: "Contoso (Graph simulator demo)", ClientID: graphsim.DemoClientID,
		Cloud: remediation.CloudCustom, GraphEndpoint: sim.GraphURL(), AuthorityHost: sim.AuthorityURL(),
		SecretCiphertext: ct, SecretKeyID: kid,
	}
	err = store.CreateTenant(ctx, t)
	if remediation.ErrorCode(err) == remediation.ECONFLICT {
		err = store.UpdateTenant(ctx, t)
	}
	if err != nil {
		return fmt.Errorf("register demo tenant: %w", err)
	}
	return nil
}

func storeDesc(cfg Config) string {
	if cfg.DatabaseURL != "" {
		return "REMEDIATOR_DATABASE_URL"
	}
	return "SQLite " + cfg.DataDir + "/history.db"
}

func newAPIKey() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "rk_" + hex.EncodeToString(b)
}

type bannerInfo struct {
	addr, key, redis, store string
	generatedKey            bool
	sim                     *graphsim.Server
	demo                    *graphsim.Tenant
}

func printBanner(out io.Writer, b bannerInfo) {
	var s strings.Builder
	base := "http://" + b.addr
	fmt.Fprintf(&s, "\nEntra Remediator is running (all-in-one, embedded defaults)\n\n")
	fmt.Fprintf(&s, "  API:              %s\n", base)
	if b.generatedKey {
		fmt.Fprintf(&s, "  API key:          %s   (generated for this run; set REMEDIATOR_API_KEY to choose one)\n", b.key)
	} else {
		fmt.Fprintf(&s, "  API key:          from REMEDIATOR_API_KEY\n")
	}
	fmt.Fprintf(&s, "  Redis:            %s\n  History store:    %s\n", b.redis, b.store)
	fmt.Fprintf(&s, "  Graph simulator:  %s\n", b.sim.URL())
	fmt.Fprintf(&s, "  Demo tenant:      %s (%s, registered)\n\n", b.demo.ID(), b.demo.Domain())
	fmt.Fprintf(&s, "  Demo users:\n")
	var enabled []string
	for _, u := range b.demo.Users() {
		kind := "member"
		switch {
		case u.IsGuest():
			kind = "guest"
		case len(u.Roles) > 0:
			kind = "admin"
		case u.OnPremisesSyncEnabled:
			kind = "synced from on-premises"
		case !u.AccountEnabled:
			kind = "already disabled"
		}
		if kind == "member" && u.AccountEnabled && len(enabled) < 3 {
			enabled = append(enabled, u.ID)
		}
		fmt.Fprintf(&s, "    %s  %-50s %s\n", u.ID, u.UserPrincipalName, kind)
	}
	key := b.key
	if !b.generatedKey {
		key = "$REMEDIATOR_API_KEY"
	}
	fmt.Fprintf(&s, "\n  Try it:\n")
	fmt.Fprintf(&s, "    curl -s -X POST %s/v1/tenants/%s/remediations \\\n", base, b.demo.ID())
	fmt.Fprintf(&s, "      -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -H 'X-Actor: admin@contoso.com' \\\n", key)
	fmt.Fprintf(&s, "      -d '{\"action\":\"disable_user\",\"identities\":[\"%s\"],\"reason\":\"risky sign-in\"}'\n", strings.Join(enabled, `","`))
	fmt.Fprintf(&s, "    curl -s %s/v1/remediations/<job id> -H 'Authorization: Bearer %s'\n\n", base, key)
	fmt.Fprintf(&s, "  Ctrl-C stops it.\n\n")
	io.WriteString(out, s.String())
}
