package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything one run measured; it is written as report.json and
// rendered as report.md.
type report struct {
	Started  time.Time         `json:"started"`
	Mode     string            `json:"mode"`
	Seconds  float64           `json:"seconds"`
	Machine  machine           `json:"machine"`
	Setup    setup             `json:"setup"`
	Targets  []target          `json:"targets"`
	Overhead *overheadResult   `json:"overhead,omitempty"`
	Quota    *quotaResult      `json:"quota,omitempty"`
	Urgency  *urgencyResult    `json:"urgency,omitempty"`
	MFA      []*mfaResult      `json:"bulk_mfa,omitempty"`
	Accept   *acceptResult     `json:"api_accept,omitempty"`
	Poll     *pollResult       `json:"api_poll,omitempty"`
	Memory   memoryResult      `json:"memory"`
	Baseline []*baselineResult `json:"baselines,omitempty"`
	Errors   []string          `json:"errors,omitempty"`
}

type machine struct {
	CPUs     int    `json:"cpus"`
	Go       string `json:"go"`
	Redis    string `json:"redis"`
	Postgres string `json:"postgres"`
}

type setup struct {
	Workers     int     `json:"workers"`
	Concurrency int     `json:"concurrency_per_worker"`
	TimeScale   float64 `json:"time_scale"`
	LatencyMS   float64 `json:"latency_ms"`
	Budget      string  `json:"budget"`
	InProcess   string  `json:"in_process"`
}

// target is one figure the issue sets a target for.
type target struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Target string `json:"target"`
	Met    bool   `json:"met"`
}

// evaluate fills Targets from the results.
func (r *report) evaluate() {
	r.Targets = nil
	add := func(name, value, tgt string, met bool) {
		r.Targets = append(r.Targets, target{name, value, tgt, met})
	}
	if o := r.Overhead; o != nil {
		add("1. items/s vs bare asynq", fmt.Sprintf("%.0f vs %.0f = %.2f%s", o.ItemsPerS, o.Bare.TasksPerS, o.Ratio, partial(o.Stopped, o.Done, o.Items)),
			"≥ 0.30", o.Ratio >= 0.3)
	}
	if q := r.Quota; q != nil {
		add("2. completion / best under write quota", fmt.Sprintf("%.1f s / %.1f s = %.2f×%s", q.Seconds, q.BestSeconds, q.Efficiency,
			partial(q.Stopped, q.Done, q.Identities)), "≤ 1.10×", q.Efficiency > 0 && q.Efficiency <= 1.10)
		add("2. share of Graph calls answered 429", fmt.Sprintf("%.2f %% (%d of %d)", 100*q.ThrottledShare, q.Throttled, q.Requests), "≤ 0.5 %", q.ThrottledShare <= 0.005)
	}
	if u := r.Urgency; u != nil {
		for _, s := range []struct {
			name string
			l    *latencySet
		}{{"same tenant", &u.SameTenant}, {"other tenant", &u.OtherTenant}} {
			v := fmt.Sprintf("p50 %.0f ms, p99 %.0f ms (n=%d, failed %d)", s.l.P50MS, s.l.P99MS, s.l.N, s.l.Failed)
			add("3. urgent job p99, "+s.name, v, fmt.Sprintf("< %.0f ms", u.TargetMS), s.l.N > 0 && s.l.Failed == 0 && s.l.P99MS < u.TargetMS)
		}
	}
}

// write writes report.json, report.md and writes.svg into dir.
func (r *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "writes.svg"), []byte(writesChart(r)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(r.markdown()), 0o644)
}

// printTable prints the figures as a table.
func (r *report) printTable(out io.Writer) {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\ttarget\tmet")
	for _, t := range r.Targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Value, t.Target, yesNo(t.Met))
	}
	for _, row := range r.figures() {
		fmt.Fprintf(tw, "%s\t%s\t\t\n", row[0], row[1])
	}
	tw.Flush()
}

// partial notes a job stopped at its deadline.
func partial(stopped bool, done, total int) string {
	if !stopped {
		return ""
	}
	return fmt.Sprintf(" (stopped at the deadline: %d of %d items)", done, total)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

// figures are the measured values without a target, as (name, value).
func (r *report) figures() [][2]string {
	var rows [][2]string
	add := func(name, format string, a ...any) { rows = append(rows, [2]string{name, fmt.Sprintf(format, a...)}) }
	if o := r.Overhead; o != nil {
		add("1. item writes per history transaction", "%.1f (group commit)", o.WritesPerTx)
		add("1. Redis commands per item (ours / bare)", "%.1f / %.1f (script runs %.1f / %.1f)", o.RedisCmdsPerItem, o.Bare.RedisCmdsPerItem, o.RedisEvalPerItem, o.Bare.RedisEvalPerItem)
	}
	if q := r.Quota; q != nil {
		add("2. bulk job", "%d identities, %d writes, %.0f writes/s allowed", q.Identities, q.Writes, q.AllowedWritesPS)
		add("2. Redis commands per item under the quota", "%.1f (everything included: urgent jobs, polling, idle workers)", q.RedisCmdsPerItem)
	}
	for _, m := range r.MFA {
		if m.Error != "" {
			add("4. enforce_mfa ("+m.Targeting+")", "%d users: error: %s", m.Identities, m.Error)
			continue
		}
		stopped := ""
		if m.Stopped {
			stopped = " (stopped at the deadline)"
		}
		add("4. enforce_mfa ("+m.Targeting+")", "%d users: %s in %.1f s%s; %d CA writes, %d CA requests, %d CA 429, %d other writes",
			m.Identities, counts(m.Counts), m.Seconds, stopped, m.CAWrites, m.CARequests, m.CAThrottled, m.OtherWrites)
	}
	if a := r.Accept; a != nil {
		add("5. accept a job", "%d identities (%.1f MB body) in %.0f ms", a.Identities, float64(a.BodyBytes)/1e6, a.PostMS)
		add("5. cancel it", "answer in %.0f ms counting %d of %d canceled; every row canceled after %.0f ms",
			a.CancelMS, a.AnswerCanceled, a.Identities, a.CanceledMS)
	}
	if p := r.Poll; p != nil {
		add("5. GET /v1/remediations/{id}", "p50 %.1f ms, p99 %.1f ms at %.0f req/s (target %d), %d errors",
			p.Latency.P50MS, p.Latency.P99MS, p.AchievedRPS, p.TargetRPS, p.Errors)
	}
	add("6. peak RSS (API + workers + simulators, in-process)", "%.0f MB before the burst baseline, %.0f MB at the end",
		r.Memory.ServicePeakRSSMB, r.Memory.PeakRSSMB)
	if r.Memory.QueuedItems > 0 {
		add("6. Redis per queued item", "%.0f bytes (%d items)", r.Memory.RedisBytesPerItem, r.Memory.QueuedItems)
	}
	for _, b := range r.Baseline {
		add("7. "+b.Name, "%d/%d disabled in %.1f s, %d × 429 of %d calls", b.Disabled, b.Identities, b.Seconds, b.Throttled, b.Requests)
	}
	return rows
}

// markdown renders the report.
func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# Bulk at scale under Graph's throttling: benchmark report\n\n")
	p("Generated by `make bench` (`go run ./cmd/bench -out docs/bench`) on %s, %s mode, in %.0f s. ",
		r.Started.UTC().Format("2006-01-02 15:04 UTC"), r.Mode, r.Seconds)
	p("Figures: [report.json](report.json). Machine: %d CPUs, %s, Redis %s, PostgreSQL %s.\n\n",
		r.Machine.CPUs, r.Machine.Go, r.Machine.Redis, r.Machine.Postgres)
	p("**What runs.** %s\n\n", r.Setup.InProcess)
	p("**Graph budget (internal/budget).** %s\n\n", r.Setup.Budget)
	p("## Targets\n\n| figure | value | target | met |\n|---|---|---|---|\n")
	for _, t := range r.Targets {
		p("| %s | %s | %s | %s |\n", t.Name, t.Value, t.Target, yesNo(t.Met))
	}
	p("\n")
	if len(r.Errors) > 0 {
		p("**Errors during the run:**\n\n")
		for _, e := range r.Errors {
			p("- %s\n", e)
		}
		p("\n")
	}
	r.mdSections(&b)
	return b.String()
}
