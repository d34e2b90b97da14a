package main

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/entraremediator/remediator/api"
	"github.com/entraremediator/remediator/internal/actions"
	"github.com/entraremediator/remediator/internal/budget"
	"github.com/entraremediator/remediator/internal/graph"
	"github.com/entraremediator/remediator/internal/history"
	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/internal/secrets"
	"github.com/entraremediator/remediator/internal/telemetry"
	"github.com/entraremediator/remediator/worker"
)

// openStore opens the history store: DATABASE_URL, else SQLite in DataDir.
func openStore(ctx context.Context, cfg Config) (*history.Store, error) {
	url := cfg.DatabaseURL
	if url == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		url = "sqlite:" + filepath.Join(cfg.DataDir, "history.db")
	}
	return history.Open(ctx, url)
}

// redisOpt parses REMEDIATOR_REDIS_URL (redis://, rediss://, unix://path,
// redis-sentinel://, as asynq.ParseRedisURI accepts).
func redisOpt(raw string) (asynq.RedisConnOpt, error) {
	if raw == "" {
		return nil, errors.New("REMEDIATOR_REDIS_URL is required")
	}
	if p, ok := strings.CutPrefix(raw, "unix://"); ok {
		return asynq.RedisClientOpt{Network: "unix", Addr: p}, nil
	}
	opt, err := asynq.ParseRedisURI(raw)
	if err != nil {
		return nil, errors.New("REMEDIATOR_REDIS_URL: not a valid Redis URL")
	}
	return opt, nil
}

// secretBox builds the AES-GCM box from the configured keys; with
// generate, a missing key is created in DataDir/encryption.key (embedded
// default only).
func secretBox(cfg Config, generate bool) (*secrets.Box, error) {
	raw := cfg.EncryptionKeys
	if raw == "" && cfg.EncryptionKeyFile != "" {
		b, err := os.ReadFile(cfg.EncryptionKeyFile)
		if err != nil {
			return nil, fmt.Errorf("REMEDIATOR_ENCRYPTION_KEY_FILE: %w", err)
		}
		raw = string(b)
	}
	if raw == "" && generate {
		path := filepath.Join(cfg.DataDir, "encryption.key")
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return nil, err
			}
			b = []byte(hex.EncodeToString(secrets.NewKey()) + "\n")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		}
		raw = string(b)
	}
	if raw == "" {
		return nil, errors.New("REMEDIATOR_ENCRYPTION_KEYS or REMEDIATOR_ENCRYPTION_KEY_FILE is required")
	}
	keys, err := secrets.ParseKeys(raw)
	if err != nil {
		return nil, err
	}
	return secrets.NewBox(keys...)
}

// extraCAs reads REMEDIATOR_EXTRA_CA_FILE.
func extraCAs(cfg Config) ([]byte, error) {
	if cfg.ExtraCAFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(cfg.ExtraCAFile)
	if err != nil {
		return nil, fmt.Errorf("REMEDIATOR_EXTRA_CA_FILE: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return nil, errors.New("REMEDIATOR_EXTRA_CA_FILE: no PEM certificate found")
	}
	return b, nil
}

// executors lists the actions this build runs.
func executors() []remediation.Executor { return actions.All() }

func available(ex []remediation.Executor) []remediation.Action {
	var out []remediation.Action
	for _, e := range ex {
		out = append(out, e.Action())
	}
	return out
}

// newAPI builds the HTTP API.
// apiExtras are the optional collaborators of the API.
type apiExtras struct {
	limiter  api.RateLimiter
	verifier remediation.Verifier
	metrics  *telemetry.Metrics
	tracer   trace.TracerProvider // nil: no spans
}

func newAPI(cfg Config, store remediation.Store, q *queue.Client, box remediation.SecretBox, x apiExtras, log *slog.Logger) *api.Server {
	var obs api.HTTPObserver
	var mh http.Handler
	if x.metrics != nil {
		obs, mh = x.metrics, x.metrics.Handler()
	}
	return api.New(api.Config{
		RateLimiter:          x.limiter,
		Verifier:             x.verifier,
		Metrics:              obs,
		MetricsHandler:       mh,
		AllowPrivateWebhooks: cfg.AllowPrivateWebhooks,
		Store:                store,
		Dispatcher:           q,
		Box:                  box,
		APIKey:               cfg.APIKey,
		MaxIdentities:        cfg.MaxIdentities,
		MaxBodyBytes:         cfg.MaxBodyBytes,
		AllowCustomEndpoints: cfg.AllowCustomEndpoints,
		Available:            available(executors()),
		Logger:               log,
		TracerProvider:       x.tracer,
	})
}

// newWorker builds the asynq worker on dirs metered by one Graph budget
// gate in Redis (budget.Wrap: every Graph call, Conditional Access ones
// included, takes the tenant's budgets, so the policy flusher needs no
// pacer of its own); close the returned closer after it stopped.
func newWorker(cfg Config, ropt asynq.RedisConnOpt, store *history.Store, box remediation.SecretBox, q *queue.Client, dirs remediation.Directories, m *telemetry.Metrics, tp trace.TracerProvider, log *slog.Logger) (*worker.Worker, io.Closer, error) {
	var hooks worker.WebhookStore = store
	rdb, ok := ropt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, nil, fmt.Errorf("redis: %T does not make a go-redis client", ropt)
	}
	store.TenantChanged = queue.TenantChangeAnnouncer(rdb, log)
	gate := budget.NewGate(rdb, budget.Options{})
	// Microsoft's published limits with the tenant's graph_limits settings.
	limits := worker.DefaultLimits
	metered := budget.Wrap(dirs, gate, limits, budget.WrapOptions{
		OnWait: func(name string, d time.Duration) {
			m.ObserveBudgetWait(name, d)
			log.Debug("waiting for the Graph budget", slog.String("budget", name), slog.Duration("wait", d))
		},
		OnError: func(err error) { log.Warn("graph budget", slog.Any("error", err)) },
	})
	ms := meteredStore{Store: store, m: m}
	w, err := worker.New(worker.Config{
		PolicyFlusher:      &actions.PolicyFlusher{Store: ms, MaxPolicyUsers: cfg.MaxPolicyUsers},
		Redis:              ropt,
		Store:              ms,
		Directories:        metered,
		Gate:               gate,
		Limits:             limits,
		Executors:          executors(),
		Queue:              q,
		Concurrency:        cfg.WorkerConcurrency,
		UrgentConcurrency:  cfg.UrgentConcurrency,
		ControlConcurrency: cfg.ControlConcurrency,
		ReconcileInterval:  cfg.ReconcileInterval,
		StaleAfter:         cfg.StaleAfter,
		ShutdownTimeout:    cfg.ShutdownTimeout,
		Logger:             log,
		TracerProvider:     tp,
		Webhooks:           worker.WebhookConfig{Store: hooks, Box: box, AllowPrivate: cfg.AllowPrivateWebhooks},
	})
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	return w, rdb, nil
}

// newConnector builds the Graph connector, with a span per call on tp.
// moreCAs (PEM) are trusted on top of the system pool and the extra CA file.
func newConnector(cfg Config, box remediation.SecretBox, roots *x509.CertPool, moreCAs []byte, tp trace.TracerProvider, log *slog.Logger) (*graph.Connector, error) {
	extra, err := extraCAs(cfg)
	if err != nil {
		return nil, err
	}
	extra = append(extra, moreCAs...)
	return graph.NewConnector(graph.Options{Box: box, RootCAs: roots, ExtraCAs: extra, Timeout: cfg.GraphTimeout, Logger: log,
		TracerProvider: tp}), nil
}

func newQueue(cfg Config, ropt asynq.RedisConnOpt) *queue.Client {
	return queue.NewClient(ropt, queue.Options{MaxRetry: cfg.MaxRetry})
}
