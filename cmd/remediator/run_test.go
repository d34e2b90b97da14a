package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRunAllInOne is `make run`: embedded Redis, SQLite and the simulator.
// It follows the banner's own curl example, then restarts on the same data
// directory and finds the job again.
func TestRunAllInOne(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	env := map[string]string{"REMEDIATOR_DATA_DIR": dir, "REMEDIATOR_HTTP_ADDR": addr, "REMEDIATOR_DEMO_USERS": "12"}
	getenv := func(k string) string { return env[k] }

	start := func() (context.CancelFunc, chan error, *syncBuffer) {
		ctx, cancel := context.WithCancel(context.Background())
		out, logs := &syncBuffer{}, &syncBuffer{}
		done := make(chan error, 1)
		go func() { done <- Main(ctx, []string{"run"}, getenv, out, logs) }()
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(out.String(), "Ctrl-C stops it") {
			if time.Now().After(deadline) {
				t.Fatalf("no banner; out:\n%s\nlogs:\n%s", out.String(), logs.String())
			}
			select {
			case err := <-done:
				t.Fatalf("run ended: %v\n%s", err, logs.String())
			case <-time.After(50 * time.Millisecond):
			}
		}
		return cancel, done, out
	}
	stop := func(cancel context.CancelFunc, done chan error) {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run stopped with %v", err)
			}
		case <-time.After(40 * time.Second):
			t.Fatal("run did not stop")
		}
	}

	cancel, done, out := start()
	banner := out.String()
	key := regexp.MustCompile(`rk_[0-9a-f]+`).FindString(banner)
	data := regexp.MustCompile(`-d '(\{.*\})'`).FindStringSubmatch(banner)
	post := regexp.MustCompile(`-X POST (\S+)`).FindStringSubmatch(banner)
	if key == "" || data == nil || post == nil || !strings.Contains(banner, addr) {
		t.Fatalf("banner lacks key, curl example or address:\n%s", banner)
	}
	req, _ := http.NewRequest("POST", post[1], strings.NewReader(data[1]))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		ID     string         `json:"id"`
		Status string         `json:"status"`
		Counts map[string]int `json:"counts"`
		Total  int            `json:"total"`
	}
	json.NewDecoder(resp.Body).Decode(&job)
	resp.Body.Close()
	if resp.StatusCode != 202 || job.ID == "" {
		t.Fatalf("banner example answered %d", resp.StatusCode)
	}
	get := func(key string) int {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/remediations/"+job.ID, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(&job)
		return resp.StatusCode
	}
	deadline := time.Now().Add(60 * time.Second)
	for get(key) == 200 && job.Status != "completed" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if job.Status != "completed" || job.Counts["succeeded"] != job.Total {
		t.Fatalf("demo job: %+v", job)
	}
	stop(cancel, done)
	if !strings.Contains(out.String(), "remediator stopped") {
		t.Error("no clean stop message")
	}
	if _, err := os.Stat(dir + "/history.db"); err != nil {
		t.Errorf("no SQLite history file: %v", err)
	}

	// Restart on the same data directory: the history is still there and
	// the generated encryption key still opens the demo tenant's secret.
	cancel, done, out = start()
	key2 := regexp.MustCompile(`rk_[0-9a-f]+`).FindString(out.String())
	if code := get(key2); code != 200 || job.Status != "completed" {
		t.Fatalf("after restart: %d %+v", code, job)
	}
	stop(cancel, done)
}

// TestREADMEDocumentsEveryVariable keeps the README's table in sync.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), envTable()) {
		t.Fatalf("README.md's configuration table is stale; replace it with `remediator env` output:\n%s", envTable())
	}
}

func TestUnknownCommand(t *testing.T) {
	if err := Main(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
		t.Fatal("unknown command accepted")
	}
	if err := Main(context.Background(), []string{"api"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "REMEDIATOR_API_KEY") {
		t.Fatalf("api without a key: %v", err)
	}
}

// TestKeysCreate bootstraps a key with the subcommand and uses it.
func TestKeysCreate(t *testing.T) {
	s := newStack(t, 0)
	var out strings.Builder
	if err := Main(context.Background(), []string{"keys", "create", "--name", "dashboard", "--role", "viewer"}, s.getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	secret := regexp.MustCompile(`rk_[0-9a-f]{64}`).FindString(out.String())
	if secret == "" {
		t.Fatalf("no secret printed: %s", out.String())
	}
	s.key = secret
	if code := s.do("GET", "/v1/remediations", nil, nil, nil); code != 200 {
		t.Fatalf("viewer key GET: %d", code)
	}
	if code := s.do("POST", "/v1/keys", map[string]any{"name": "x", "role": "admin"}, nil, nil); code != 403 {
		t.Fatalf("viewer key creating keys: %d, want 403", code)
	}
}
