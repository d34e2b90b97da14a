// Command bench measures Entra Remediator in bulk at scale under Microsoft
// Graph's throttling ("make bench"). It builds the real components in this
// process the way cmd/remediator wires them (history store on PostgreSQL,
// a redis-server it starts, the API, worker replicas, the Graph connector)
// against the Graph simulator over HTTPS, runs the scenarios one after the
// other, prints the figures as a table and writes report.md, report.json
// and writes.svg into -out.
//
//	go run ./cmd/bench -out docs/bench          # full run (≤ 20 min on 2 cores)
//	go run ./cmd/bench -quick -out /tmp/bench   # about 2 minutes
//
// PostgreSQL must be running (scripts/test-services.sh start); the bench
// creates a fresh database on it and drops it at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/entraremediator/remediator/internal/tracing"
)

// config holds the flags.
type config struct {
	quick       bool
	cpuProfile  string
	pprofAddr   string
	out         string
	dbAdmin     string
	dbURL       string // set by newStack
	keepDB      bool
	workers     int
	concurrency int
	timeScale   float64
	latency     time.Duration
	budget      bool
	overheadN   int
	quotaN      int
	mfaN        int
	acceptN     int
	seqN        int
	getRPS      int
	// apiRateLimit is REMEDIATOR_API_RATE_LIMIT.
	apiRateLimit int
	logLevel     string
	// jobDeadline bounds the bulk jobs of scenarios 1 and 2 (two fifths of
	// it, at least 30 s, each run of scenario 4): a job still running then is
	// canceled and its figures are taken from the items done.
	jobDeadline time.Duration
	// only lists the scenarios to run (empty: all).
	only map[string]bool
}

// scenarioNames are the values of -only.
var scenarioNames = []string{"overhead", "memory", "quota", "burst", "mfa", "accept"}

// runs reports whether scenario name is to run.
func (c config) runs(name string) bool { return len(c.only) == 0 || c.only[name] }

// sizes of the scenarios: full run, quick run.
var sizes = map[string][2]int{
	"overhead-n": {100_000, 10_000},
	"quota-n":    {20_000, 4_000},
	"mfa-n":      {5_000, 1_000},
	"accept-n":   {100_000, 100_000},
	"seq-n":      {600, 100},
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.BoolVar(&cfg.quick, "quick", false, "small sizes (about 2 minutes)")
	fs.StringVar(&cfg.out, "out", "docs/bench", "directory for report.md, report.json and writes.svg")
	def := os.Getenv("REMEDIATOR_TEST_DATABASE_URL")
	if def == "" {
		def = "postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable" // scripts/test-services.sh url
	}
	fs.StringVar(&cfg.dbAdmin, "db", def, "PostgreSQL URL with the right to create a database")
	fs.BoolVar(&cfg.keepDB, "keep-db", false, "keep the bench database")
	fs.IntVar(&cfg.workers, "workers", 2, "worker replicas")
	fs.IntVar(&cfg.concurrency, "concurrency", 100, "tasks each worker runs at once (REMEDIATOR_WORKER_CONCURRENCY default)")
	fs.Float64Var(&cfg.timeScale, "timescale", 10, "speed-up of the throttled simulator's quota windows")
	fs.DurationVar(&cfg.latency, "latency", 100*time.Millisecond, "simulated Graph latency in scenarios 2, 3 and 7")
	fs.BoolVar(&cfg.budget, "budget", true, "meter Graph calls with internal/budget as cmd/remediator does (false: measure without)")
	fs.IntVar(&cfg.apiRateLimit, "api-rate-limit", 1000, "API requests per second per key (REMEDIATOR_API_RATE_LIMIT)")
	fs.IntVar(&cfg.getRPS, "get-rps", 300, "GET /v1/remediations/{id} per second during scenario 2")
	fs.DurationVar(&cfg.jobDeadline, "job-deadline", 0, "time limit of the bulk jobs of scenarios 1 and 2; scenario 4 gets 2/5 of it, at least 30s (0: 5m, quick 20s)")
	fs.StringVar(&cfg.logLevel, "log-level", "error", "log level of the components: debug, info, warn, error")
	n := map[string]*int{"overhead-n": &cfg.overheadN, "quota-n": &cfg.quotaN, "mfa-n": &cfg.mfaN,
		"accept-n": &cfg.acceptN, "seq-n": &cfg.seqN}
	for name, p := range n {
		fs.IntVar(p, name, 0, fmt.Sprintf("size (0: %d, quick %d)", sizes[name][0], sizes[name][1]))
	}
	fs.StringVar(&cfg.pprofAddr, "pprof", "", "serve net/http/pprof on this address during the run (e.g. 127.0.0.1:6060)")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	only := fs.String("only", "", "comma-separated scenarios to run: "+strings.Join(scenarioNames, ", ")+" (empty: all)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if *only != "" {
		cfg.only = map[string]bool{}
		for name := range strings.SplitSeq(*only, ",") {
			if !slices.Contains(scenarioNames, name) {
				return cfg, fmt.Errorf("-only: unknown scenario %q", name)
			}
			cfg.only[name] = true
		}
	}
	for name, p := range n {
		if *p <= 0 {
			*p = sizes[name][0]
			if cfg.quick {
				*p = sizes[name][1]
			}
		}
	}
	if cfg.jobDeadline <= 0 {
		cfg.jobDeadline = 5 * time.Minute
		if cfg.quick {
			cfg.jobDeadline = 20 * time.Second
		}
	}
	if cfg.workers < 1 || cfg.concurrency < 1 {
		return cfg, fmt.Errorf("-workers and -concurrency must be positive")
	}
	return cfg, nil
}

func main() {
	tracing.SilenceGlobal() // as cmd/remediator
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.pprofAddr != "" {
		go func() { fmt.Fprintln(os.Stderr, "bench: pprof:", http.ListenAndServe(cfg.pprofAddr, nil)) }()
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(ctx, cfg, os.Stdout); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelError
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// step prints progress.
func step(out io.Writer, t0 time.Time, format string, a ...any) {
	fmt.Fprintf(out, "[%6.1fs] %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, a...))
}

// peakRSSMB returns VmHWM of /proc/self/status in MB.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}
