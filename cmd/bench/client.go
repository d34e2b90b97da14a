package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// apiClient calls the remediator API over HTTP, as a portal backend does.
type apiClient struct {
	base, key string
	http      *http.Client
}

// jobView is what the bench reads of GET /v1/remediations/{id}.
type jobView struct {
	ID         string         `json:"id"`
	Status     string         `json:"status"`
	Total      int            `json:"total"`
	Counts     map[string]int `json:"counts"`
	CreatedAt  time.Time      `json:"created_at"`
	StartedAt  *time.Time     `json:"started_at"`
	FinishedAt *time.Time     `json:"finished_at"`
}

func (j jobView) done() bool { return j.Status == "completed" || j.Status == "canceled" }

// submission is one POST …/remediations.
type submission struct {
	Action              string          `json:"action"`
	Identities          []string        `json:"identities"`
	Reason              string          `json:"reason"`
	Parameters          json.RawMessage `json:"parameters,omitempty"`
	ConfirmAdminTargets bool            `json:"confirm_admin_targets,omitempty"`
}

// submit posts a job and returns it with the time the POST took.
func (c *apiClient) submit(ctx context.Context, tenantID string, sub submission) (jobView, time.Duration, error) {
	body, err := json.Marshal(sub)
	if err != nil {
		return jobView{}, 0, err
	}
	start := time.Now()
	var j jobView
	status, err := c.do(ctx, http.MethodPost, "/v1/tenants/"+tenantID+"/remediations", body, &j)
	took := time.Since(start)
	if err != nil {
		return jobView{}, took, err
	}
	if status != http.StatusAccepted && status != http.StatusOK {
		return jobView{}, took, fmt.Errorf("submit %s: status %d", sub.Action, status)
	}
	return j, took, nil
}

// job reads a job.
func (c *apiClient) job(ctx context.Context, id string) (jobView, error) {
	var j jobView
	status, err := c.do(ctx, http.MethodGet, "/v1/remediations/"+id, nil, &j)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("get job %s: status %d", id, status)
	}
	return j, err
}

// cancel cancels a job.
func (c *apiClient) cancel(ctx context.Context, id string) (jobView, error) {
	var j jobView
	status, err := c.do(ctx, http.MethodPost, "/v1/remediations/"+id+"/cancel", []byte("{}"), &j)
	if err == nil && status >= 300 {
		err = fmt.Errorf("cancel job %s: status %d", id, status)
	}
	return j, err
}

// wait polls a job every interval until it is finished or timeout passes.
func (c *apiClient) wait(ctx context.Context, id string, interval, timeout time.Duration) (jobView, error) {
	deadline := time.Now().Add(timeout)
	for {
		j, err := c.job(ctx, id)
		if err == nil && j.done() {
			return j, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("job %s: %w after %s (status %s, counts %v)", id, errTimeout, timeout, j.Status, j.Counts)
			}
			return j, err
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(interval):
		}
	}
}

func (c *apiClient) do(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("X-Actor", "bench@example.com")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, truncate(b, 300))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
