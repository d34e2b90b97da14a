package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
)

// baselineResult is one baseline of scenario 7: what an admin script
// does for each user (GET, then PATCH accountEnabled=false) through a
// plain net/http client that behaves like msgraph-sdk-go's default retry
// handler (kiota-http-go v1.5.4 RetryHandler: up to 3 retries after the
// first try on 429/503/504, waiting Retry-After, else 3 s·2^(n-1) plus up to
// 1 s of jitter, while the waits add up to less than 180 s).
type baselineResult struct {
	Name            string  `json:"name"`
	Identities      int     `json:"identities"`
	Seconds         float64 `json:"seconds"`
	Disabled        int     `json:"disabled"`
	Failed          int     `json:"failed"`
	Requests        int     `json:"graph_requests"`
	Throttled       int     `json:"graph_429"`
	ThrottledShare  float64 `json:"share_429"`
	ItemsPerS       float64 `json:"items_per_s"`
	ProjectedFor    int     `json:"projected_for,omitempty"`
	ProjectedS      float64 `json:"projected_seconds,omitempty"`
	WritesPerSecond []int   `json:"writes_per_second"`
	Error           string  `json:"error,omitempty"`
	// Why counts the users left enabled by the reason of their last
	// failed call ("PATCH: 429 after 3 retries", "GET: transport error").
	Why map[string]int `json:"left_enabled_why,omitempty"`
}

// failures counts the reasons users were left enabled; safe for
// concurrent use.
type failures struct {
	mu sync.Mutex
	m  map[string]int
}

func (f *failures) add(why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]int{}
	}
	f.m[why]++
}

// sdkClient calls the simulator's Graph with a client-credentials token.
type sdkClient struct {
	http     *http.Client
	graphURL string
	token    string
	retries  atomic.Int64
}

// newSDKClient gets a token for t (client secret) from the simulator's
// token endpoint. HTTP/2 is used as msgraph-sdk-go uses it.
func newSDKClient(ctx context.Context, sim *graphsim.Server, t *graphsim.Tenant) (*sdkClient, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: sim.CAPool(), MinVersion: tls.VersionTLS12}
	tr.ForceAttemptHTTP2 = true
	tr.MaxIdleConnsPerHost = 64
	c := &sdkClient{http: &http.Client{Transport: tr, Timeout: 5 * time.Minute}, graphURL: sim.GraphURL()}
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {t.ClientID()}, "client_secret": {t.ClientSecret()},
		"scope": {"https://graph.microsoft.com/.default"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sim.AuthorityURL()+t.ID()+"/oauth2/v2.0/token",
		strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return nil, fmt.Errorf("token: status %d, %v", resp.StatusCode, err)
	}
	c.token = tok.AccessToken
	return c, nil
}

// Kiota's default RetryHandler settings.
const (
	sdkMaxRetries     = 3
	sdkDelaySeconds   = 3
	sdkMaxTotalDelayS = 180
)

// do sends one request and retries it as the SDK's default handler does.
func (c *sdkClient) do(ctx context.Context, method, path string, body []byte) (int, error) {
	var total time.Duration
	for n := 0; ; n++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, c.graphURL+path, rd)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if n > 0 {
			req.Header.Set("Retry-Attempt", strconv.Itoa(n))
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		retriable := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable ||
			resp.StatusCode == http.StatusGatewayTimeout
		if !retriable || n >= sdkMaxRetries || total >= sdkMaxTotalDelayS*time.Second {
			return resp.StatusCode, nil
		}
		delay := time.Duration(sdkDelaySeconds*(1<<n))*time.Second + time.Duration(rand.Float64()*1000)*time.Millisecond
		if ra, err := strconv.ParseFloat(resp.Header.Get("Retry-After"), 64); err == nil {
			delay = time.Duration(ra) * time.Second
		}
		total += delay
		c.retries.Add(1)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(delay):
		}
	}
}

// disable is the admin script's step for one user: read, then disable.
func (c *sdkClient) disable(ctx context.Context, id string, why *failures) bool {
	st, err := c.do(ctx, http.MethodGet, "/users/"+id+"?$select=id,accountEnabled", nil)
	if err != nil || st != http.StatusOK {
		why.add("GET: " + failure(st, err))
		return false
	}
	st, err = c.do(ctx, http.MethodPatch, "/users/"+id, []byte(`{"accountEnabled":false}`))
	if err != nil || st != http.StatusNoContent {
		why.add("PATCH: " + failure(st, err))
		return false
	}
	return true
}

// failure names why a call failed: its final status (after the SDK's
// retries, for 429/503/504), or the kind of transport error.
func failure(status int, err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "deadline"
	case errors.Is(err, syscall.EMFILE):
		// Each goroutine dials its own connection before the first
		// one is up, and the simulator's ends of them count in this
		// process too.
		return "too many open files"
	case err != nil:
		return "transport error"
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		return fmt.Sprintf("%d after %d retries", status, sdkMaxRetries)
	default:
		return fmt.Sprintf("status %d", status)
	}
}

// runSequentialBaseline disables ids one after the other.
func runSequentialBaseline(ctx context.Context, sim *graphsim.Server, t *graphsim.Tenant, added time.Time, ids []string) *baselineResult {
	r := &baselineResult{Name: "sequential loop (SDK default retry)", Identities: len(ids)}
	c, err := newSDKClient(ctx, sim, t)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	before := t.Stats()
	t0 := time.Now()
	var why failures
	defer func() { r.Why = why.m }()
	for _, id := range ids {
		if c.disable(ctx, id, &why) {
			r.Disabled++
		} else {
			r.Failed++
		}
	}
	finishBaseline(r, t, before, t0, added)
	return r
}

// runBurstBaseline starts one goroutine per identity at once.
func runBurstBaseline(ctx context.Context, sim *graphsim.Server, t *graphsim.Tenant, added time.Time, ids []string) *baselineResult {
	r := &baselineResult{Name: "one goroutine per identity (SDK default retry)", Identities: len(ids)}
	c, err := newSDKClient(ctx, sim, t)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	before := t.Stats()
	t0 := time.Now()
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	var why failures
	defer func() { r.Why = why.m }()
	for _, id := range ids {
		wg.Go(func() {
			if c.disable(ctx, id, &why) {
				ok.Add(1)
			} else {
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	r.Disabled, r.Failed = int(ok.Load()), int(bad.Load())
	finishBaseline(r, t, before, t0, added)
	return r
}

func finishBaseline(r *baselineResult, t *graphsim.Tenant, before graphsim.TenantStats, t0, added time.Time) {
	d := time.Since(t0)
	after := t.Stats()
	r.Seconds = d.Seconds()
	r.Requests = after.Requests - before.Requests
	r.Throttled = after.Throttled - before.Throttled
	if r.Requests > 0 {
		r.ThrottledShare = float64(r.Throttled) / float64(r.Requests)
	}
	if r.Seconds > 0 {
		r.ItemsPerS = float64(r.Disabled) / r.Seconds
	}
	r.WritesPerSecond = timelineFrom(t.WriteTimeline(), t0.Sub(added), d)
}
