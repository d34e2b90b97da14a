package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/entraremediator/remediator/internal/logctx"
	"github.com/entraremediator/remediator/internal/tracing"
)

// Config is every setting of the program, read once from REMEDIATOR_*
// environment variables and passed down as plain values.
type Config struct {
	HTTPAddr             string
	APIKey               string
	RedisURL             string
	DatabaseURL          string
	DataDir              string
	AllowCustomEndpoints bool
	EncryptionKeys       string
	EncryptionKeyFile    string
	ExtraCAFile          string
	MaxIdentities        int
	MaxBodyBytes         int64
	WorkerConcurrency    int
	UrgentConcurrency    int
	ControlConcurrency   int
	MaxRetry             int
	MaxPolicyUsers       int
	MetricsAddr          string
	APIRateLimit         int
	AllowPrivateWebhooks bool
	GraphTimeout         time.Duration
	ShutdownTimeout      time.Duration
	ReconcileInterval    time.Duration
	StaleAfter           time.Duration
	LogLevel             string
	LogFormat            string
	SimulatorAddr        string
	DemoUsers            int
	OTLPEndpoint         string
	TraceSampleRatio     float64

	logOut io.Writer // where Logger writes; os.Stderr when nil
}

// envVar documents one variable for the README table and `remediator env`.
type envVar struct {
	name, def, doc string
	secret         bool
	set            func(c *Config, v string) error
}

var envVars = []envVar{
	{"REMEDIATOR_HTTP_ADDR", defaultHTTPAddr, "API listen address (`run`: 127.0.0.1:8080).", false, func(c *Config, v string) error { c.HTTPAddr = v; return nil }},
	{"REMEDIATOR_API_KEY", "", "Bootstrap API key (Bearer). Required for `api`; `run` generates one when empty.", true, func(c *Config, v string) error { c.APIKey = v; return nil }},
	{"REMEDIATOR_REDIS_URL", "", "Redis URL (redis://, rediss://, unix:///path.sock). Required for `api`/`worker`; `run` embeds miniredis when empty.", true, func(c *Config, v string) error { c.RedisURL = v; return nil }},
	{"REMEDIATOR_DATABASE_URL", "", "History store: postgres://… for PostgreSQL; empty or sqlite:PATH for SQLite (default DATA_DIR/history.db).", true, func(c *Config, v string) error { c.DatabaseURL = v; return nil }},
	{"REMEDIATOR_DATA_DIR", "./data", "Directory of the embedded defaults (SQLite file, generated encryption key, simulator CA).", false, func(c *Config, v string) error { c.DataDir = v; return nil }},
	{"REMEDIATOR_ALLOW_CUSTOM_ENDPOINTS", "false", "Allow tenants with cloud=custom (own Graph/authority endpoints). Off: such endpoints could send a tenant's secret elsewhere.", false, func(c *Config, v string) (err error) { c.AllowCustomEndpoints, err = strconv.ParseBool(v); return }},
	{"REMEDIATOR_ENCRYPTION_KEYS", "", "Comma-separated AES-256 keys (64 hex digits or base64) for tenant secrets; the first seals, all open. `run` generates DATA_DIR/encryption.key when neither this nor the key file is set.", true, func(c *Config, v string) error { c.EncryptionKeys = v; return nil }},
	{"REMEDIATOR_ENCRYPTION_KEY_FILE", "", "File holding the keys in the same format (e.g. a mounted Kubernetes Secret).", false, func(c *Config, v string) error { c.EncryptionKeyFile = v; return nil }},
	{"REMEDIATOR_EXTRA_CA_FILE", "", "PEM file of extra CAs trusted for Graph and the authority (SSL_CERT_FILE is honoured too).", false, func(c *Config, v string) error { c.ExtraCAFile = v; return nil }},
	{"REMEDIATOR_MAX_IDENTITIES", "100000", "Largest identity list accepted in one job.", false, func(c *Config, v string) (err error) { c.MaxIdentities, err = strconv.Atoi(v); return }},
	{"REMEDIATOR_MAX_BODY_BYTES", "16777216", "Largest request body accepted.", false, func(c *Config, v string) (err error) { c.MaxBodyBytes, err = strconv.ParseInt(v, 10, 64); return }},
	{"REMEDIATOR_WORKER_CONCURRENCY", "100", "Bulk item tasks a worker process runs at once (paced bulk items may wait up to a second for their budget inside a task: see README, Bulk at scale).", false, func(c *Config, v string) (err error) { c.WorkerConcurrency, err = strconv.Atoi(v); return }},
	{"REMEDIATOR_WORKER_URGENT_CONCURRENCY", "10", "Urgent tasks (fan-outs and items of small jobs) a worker process runs at once, in task slots bulk work cannot fill.", false, func(c *Config, v string) (err error) { c.UrgentConcurrency, err = strconv.Atoi(v); return }},
	{"REMEDIATOR_WORKER_CONTROL_CONCURRENCY", "10", "Control tasks (fan-outs of bulk jobs, policy flushes, webhook deliveries) a worker process runs at once, in task slots of their own.", false, func(c *Config, v string) (err error) { c.ControlConcurrency, err = strconv.Atoi(v); return }},
	{"REMEDIATOR_API_RATE_LIMIT", "100", "Requests per second per API key (burst twice that), shared by all API replicas through Redis.", false, func(c *Config, v string) (err error) { c.APIRateLimit, err = strconv.Atoi(v); return }},
	{"REMEDIATOR_ALLOW_PRIVATE_WEBHOOKS", "false", "Allow webhook URLs on loopback, link-local or private addresses (tests, lab setups).", false, func(c *Config, v string) (err error) { c.AllowPrivateWebhooks, err = strconv.ParseBool(v); return }},
	{"REMEDIATOR_METRICS_ADDR", ":9090", "Where a `worker` process serves /metrics (`off` disables it). The API serves /metrics on its own address.", false, func(c *Config, v string) error {
		if v == "off" {
			v = ""
		}
		c.MetricsAddr = v
		return nil
	}},
	{"REMEDIATOR_MAX_POLICY_USERS", "1000", "Most user ids put in one managed Conditional Access policy (mfa_targeting=users); beyond it adds fail with policy_full (Graph also refuses a too-large policy: the product then halves the batch). Use mfa_targeting=group for more.", false, func(c *Config, v string) (err error) { c.MaxPolicyUsers, err = strconv.Atoi(v); return }},
	{"REMEDIATOR_MAX_RETRY", "12", "Retries of a retryable Graph failure before the item fails.", false, func(c *Config, v string) (err error) { c.MaxRetry, err = strconv.Atoi(v); return }},
	{"REMEDIATOR_GRAPH_TIMEOUT", "30s", "Time-out of one Graph call.", false, func(c *Config, v string) (err error) { c.GraphTimeout, err = time.ParseDuration(v); return }},
	{"REMEDIATOR_SHUTDOWN_TIMEOUT", "25s", "How long a stopping process waits for in-flight requests and tasks.", false, func(c *Config, v string) (err error) { c.ShutdownTimeout, err = time.ParseDuration(v); return }},
	{"REMEDIATOR_RECONCILE_INTERVAL", "10s", "How often a worker looks for jobs whose fan-out must be (re)started (including the fan-out that cancels the items of a large canceled job).", false, func(c *Config, v string) (err error) { c.ReconcileInterval, err = time.ParseDuration(v); return }},
	{"REMEDIATOR_STALE_AFTER", "5m", "How long a job may make no progress before a worker enqueues the tasks of its unfinished items again (tasks lost with Redis data); keep it above the item time-out (2m).", false, func(c *Config, v string) (err error) { c.StaleAfter, err = time.ParseDuration(v); return }},
	{"REMEDIATOR_LOG_LEVEL", "info", "debug, info, warn or error.", false, func(c *Config, v string) error { c.LogLevel = v; return nil }},
	{"REMEDIATOR_LOG_FORMAT", "json", "json or text.", false, func(c *Config, v string) error { c.LogFormat = v; return nil }},
	{"REMEDIATOR_SIMULATOR_ADDR", "127.0.0.1:0", "Listen address of the Graph simulator (`run`, `simulator`).", false, func(c *Config, v string) error { c.SimulatorAddr = v; return nil }},
	{"REMEDIATOR_DEMO_USERS", "20", "Users seeded in the simulator's demo tenant.", false, func(c *Config, v string) (err error) { c.DemoUsers, err = strconv.Atoi(v); return }},
	{"REMEDIATOR_OTLP_ENDPOINT", "", "URL of an OTLP/HTTP collector receiving traces (e.g. http://otel-collector:4318; /v1/traces is added when it has no path). Empty: tracing off.", false, func(c *Config, v string) error { c.OTLPEndpoint = v; return tracing.CheckEndpoint(v) }},
	{"REMEDIATOR_TRACE_SAMPLE_RATIO", "1", "Share of new traces recorded (0 to 1) when REMEDIATOR_OTLP_ENDPOINT is set; tasks follow the decision of the request that started them.", false, func(c *Config, v string) (err error) {
		c.TraceSampleRatio, err = strconv.ParseFloat(v, 64)
		return
	}},
}

// LoadConfig reads the environment (getenv is os.Getenv outside tests).
func LoadConfig(getenv func(string) string) (Config, error) {
	var c Config
	for _, v := range envVars {
		val := getenv(v.name)
		if val == "" {
			val = v.def
		}
		if err := v.set(&c, val); err != nil {
			return c, fmt.Errorf("%s: invalid value: %v", v.name, err)
		}
	}
	switch {
	case c.MaxIdentities < 1:
		return c, fmt.Errorf("REMEDIATOR_MAX_IDENTITIES must be positive")
	case c.WorkerConcurrency < 1:
		return c, fmt.Errorf("REMEDIATOR_WORKER_CONCURRENCY must be positive")
	case c.UrgentConcurrency < 1:
		return c, fmt.Errorf("REMEDIATOR_WORKER_URGENT_CONCURRENCY must be positive")
	case c.ControlConcurrency < 1:
		return c, fmt.Errorf("REMEDIATOR_WORKER_CONTROL_CONCURRENCY must be positive")
	case c.APIRateLimit < 1:
		return c, fmt.Errorf("REMEDIATOR_API_RATE_LIMIT must be positive")
	case c.StaleAfter <= 0:
		return c, fmt.Errorf("REMEDIATOR_STALE_AFTER must be positive")
	case c.MaxRetry < 0:
		return c, fmt.Errorf("REMEDIATOR_MAX_RETRY must not be negative")
	case c.LogFormat != "json" && c.LogFormat != "text":
		return c, fmt.Errorf("REMEDIATOR_LOG_FORMAT must be json or text")
	case !(c.TraceSampleRatio >= 0 && c.TraceSampleRatio <= 1):
		return c, fmt.Errorf("REMEDIATOR_TRACE_SAMPLE_RATIO must be between 0 and 1")
	}
	return c, nil
}

// Logger builds the process logger. Records logged with a *Context
// method carry the context's ids (job, item, task, request: logctx) and
// its trace and span ids.
func (c Config) Logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var w io.Writer = os.Stderr
	if c.logOut != nil {
		w = c.logOut
	}
	if c.LogFormat == "text" {
		return slog.New(logctx.NewHandler(slog.NewTextHandler(w, opts)))
	}
	return slog.New(logctx.NewHandler(slog.NewJSONHandler(w, opts)))
}

// Dump writes the effective configuration, secrets redacted.
func (c Config) Dump(getenv func(string) string) string {
	var lines []string
	for _, v := range envVars {
		val := getenv(v.name)
		switch {
		case val == "":
			val = v.def + " (default)"
		case v.secret:
			val = "<redacted>"
		}
		lines = append(lines, v.name+"="+val)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// envTable renders the README table of variables.
func envTable() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, v := range envVars {
		def := v.def
		if def == "" {
			def = "—"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", v.name, def, v.doc)
	}
	return b.String()
}

const defaultHTTPAddr = ":8080"
