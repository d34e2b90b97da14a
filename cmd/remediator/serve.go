package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/telemetry"
	"github.com/entraremediator/remediator/internal/tracing"
)

// runAPI serves the HTTP API until ctx is done, then drains.
func runAPI(ctx context.Context, cfg Config) error {
	log := cfg.Logger()
	if cfg.APIKey == "" {
		return errors.New("REMEDIATOR_API_KEY is required")
	}
	ropt, err := redisOpt(cfg.RedisURL)
	if err != nil {
		return err
	}
	tp, stopTracing, err := setupTracing(ctx, cfg, tracing.ServiceAPI, log)
	if err != nil {
		return err
	}
	defer stopTracing()
	box, err := secretBox(cfg, false)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	q := newQueue(cfg, ropt)
	defer q.Close()
	rdb := ropt.MakeRedisClient().(redis.UniversalClient)
	defer rdb.Close()
	store.TenantChanged = queue.TenantChangeAnnouncer(rdb, log)
	verifier, err := newConnector(cfg, box, nil, nil, tp, log)
	if err != nil {
		return err
	}
	srv := newAPI(cfg, store, q, box, apiExtras{
		limiter:  newRedisRateLimiter(rdb, cfg.APIRateLimit),
		verifier: verifier,
		metrics:  telemetry.New().WithQueue(ropt),
		tracer:   tp,
	}, log)
	if err := srv.Start(cfg.HTTPAddr); err != nil {
		return err
	}
	log.Info("api listening", slog.String("addr", srv.Addr()))
	<-ctx.Done()
	return shutdownAPI(srv, cfg)
}

// runWorker runs the asynq worker until ctx is done, then hands back or
// finishes in-flight tasks within the shutdown timeout.
func runWorker(ctx context.Context, cfg Config) error {
	log := cfg.Logger()
	ropt, err := redisOpt(cfg.RedisURL)
	if err != nil {
		return err
	}
	tp, stopTracing, err := setupTracing(ctx, cfg, tracing.ServiceWorker, log)
	if err != nil {
		return err
	}
	defer stopTracing()
	box, err := secretBox(cfg, false)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	q := newQueue(cfg, ropt)
	defer q.Close()
	dirs, err := newConnector(cfg, box, nil, nil, tp, log)
	if err != nil {
		return err
	}
	metrics := telemetry.New()
	stopMetrics, err := serveMetrics(cfg.MetricsAddr, metrics, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	w, wclose, err := newWorker(cfg, ropt, store, box, q, dirs, metrics, tp, log)
	if err != nil {
		return err
	}
	defer wclose.Close()
	log.Info("worker started", slog.Int("concurrency", cfg.WorkerConcurrency))
	return w.Run(ctx)
}

type shutdowner interface {
	Shutdown(ctx context.Context) error
}

func shutdownAPI(srv shutdowner, cfg Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("api shutdown: %w", err)
	}
	return nil
}

// serveMetrics serves /metrics of a worker process on addr ("" = off).
func serveMetrics(addr string, m *telemetry.Metrics, log *slog.Logger) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server stopped", slog.Any("error", err))
		}
	}()
	log.Info("worker metrics listening", slog.String("addr", ln.Addr().String()))
	return func() { srv.Close() }, nil
}
