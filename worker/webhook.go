package worker

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/entraremediator/remediator/internal/egress"
	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/remediation"
)

// Webhook request headers.
const (
	HeaderWebhookEvent     = "X-Remediator-Event"
	HeaderWebhookDelivery  = "X-Remediator-Delivery"
	HeaderWebhookTimestamp = "X-Remediator-Timestamp"
	HeaderWebhookSignature = "X-Remediator-Signature"
)

// Defaults of WebhookConfig.
const (
	DefaultWebhookTimeout       = 10 * time.Second
	DefaultWebhookBaseBackoff   = 10 * time.Second
	DefaultWebhookMaxBackoff    = time.Hour
	DefaultWebhookSweepInterval = 2 * time.Second
	DefaultWebhookLease         = 10 * time.Minute
)

// msgWebhookRefused is the delivery error of a target the egress rule
// refuses. It does not name the address.
const msgWebhookRefused = "refused: the webhook host is or resolves to a loopback, private, link-local or other internal address"

// WebhookStore is what webhook delivery needs of the history store
// (*history.Store implements it).
type WebhookStore interface {
	GetWebhook(ctx context.Context, id string) (*remediation.Webhook, error)
	GetDelivery(ctx context.Context, id string) (*remediation.WebhookDelivery, error)
	UpdateDelivery(ctx context.Context, d *remediation.WebhookDelivery) error
	remediation.DeliveryStore
}

// WebhookConfig configures webhook delivery. With Store and Box both nil
// the worker sends no webhooks; setting only one of them is an error.
type WebhookConfig struct {
	// Store holds the webhooks and their deliveries (the outbox).
	Store WebhookStore
	// Box opens the webhooks' sealed signing secrets.
	Box remediation.SecretBox
	// AllowPrivate lets deliveries connect to loopback, private,
	// link-local and other internal addresses, and use plain http (tests,
	// closed networks). Without it the dialer refuses such addresses at
	// connect time, after name resolution (egress.Control).
	AllowPrivate bool
	// MaxRetry is the number of retries after a failed first attempt.
	// Default 10 (queue.DefaultWebhookMaxRetry).
	MaxRetry int
	// BaseBackoff and MaxBackoff bound the exponential backoff between
	// attempts. Defaults 10 s and 1 h.
	BaseBackoff, MaxBackoff time.Duration
	// Timeout bounds one HTTP attempt. Default 10 s.
	Timeout time.Duration
	// SweepInterval is how often pending deliveries are handed to the
	// queue. Default 2 s.
	SweepInterval time.Duration
	// Lease is how long the sweep leaves a delivery it has queued alone
	// before it queues it again (a no-op while its task exists). Default
	// 10 min.
	Lease time.Duration
}

// webhooks sends webhook deliveries.
type webhooks struct {
	store        WebhookStore
	box          remediation.SecretBox
	client       *http.Client
	allowPrivate bool
	maxRetry     int
	backoff      backoff
	sweep        time.Duration
	lease        time.Duration
	now          func() time.Time
}

// newWebhooks returns the webhook sender of cfg, nil when webhooks are off.
func newWebhooks(cfg WebhookConfig) (*webhooks, error) {
	switch {
	case cfg.Store == nil && cfg.Box == nil:
		return nil, nil
	case cfg.Store == nil || cfg.Box == nil:
		return nil, errors.New("worker: Webhooks needs both Store and Box")
	}
	h := &webhooks{
		store:        cfg.Store,
		box:          cfg.Box,
		allowPrivate: cfg.AllowPrivate,
		maxRetry:     cmp.Or(cfg.MaxRetry, queue.DefaultWebhookMaxRetry),
		backoff: backoff{base: cmp.Or(cfg.BaseBackoff, DefaultWebhookBaseBackoff),
			max: cmp.Or(cfg.MaxBackoff, DefaultWebhookMaxBackoff)},
		sweep: cmp.Or(cfg.SweepInterval, DefaultWebhookSweepInterval),
		lease: cmp.Or(cfg.Lease, DefaultWebhookLease),
		now:   time.Now,
	}
	if h.backoff.max < h.backoff.base {
		return nil, fmt.Errorf("worker: webhook MaxBackoff %s is below BaseBackoff %s", h.backoff.max, h.backoff.base)
	}
	h.client = webhookClient(cmp.Or(cfg.Timeout, DefaultWebhookTimeout), cfg.AllowPrivate)
	return h, nil
}

// webhookClient returns the HTTP client of deliveries: no proxy (the
// address rule must apply to the target itself), no redirects followed,
// each attempt bounded by timeout, and unless allowPrivate a dialer that
// refuses internal addresses when it connects, so that a DNS answer that
// changed since the webhook was registered cannot reach them either.
func webhookClient(timeout time.Duration, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = egress.Control
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
		},
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// WebhookSignature returns the X-Remediator-Signature value of a body sent
// at timestamp (unix seconds, as in X-Remediator-Timestamp): "v1=" and the
// hex HMAC-SHA256 of timestamp + "." + body under the webhook's secret.
func WebhookSignature(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// attempt is the result of one HTTP attempt.
type attempt struct {
	ok        bool
	status    int    // HTTP status, 0 without an answer
	err       string // why it failed, safe to store and show (no URL, no secret)
	permanent bool   // retrying cannot help
}

// send makes one signed POST of d's payload to the webhook.
func (h *webhooks) send(ctx context.Context, hook *remediation.Webhook, d *remediation.WebhookDelivery) attempt {
	u, err := url.Parse(hook.URL)
	if err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && h.allowPrivate)) {
		return attempt{err: "refused: the webhook URL must be an absolute https URL", permanent: true}
	}
	secret, err := h.box.Open(hook.SecretCiphertext, hook.SecretKeyID)
	if err != nil {
		return attempt{err: "the webhook's signing secret could not be opened"}
	}
	body := []byte(d.Payload)
	ts := strconv.FormatInt(h.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return attempt{err: "refused: invalid webhook URL", permanent: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "entra-remediator-webhook/1")
	req.Header.Set(HeaderWebhookEvent, d.Event)
	req.Header.Set(HeaderWebhookDelivery, d.ID)
	req.Header.Set(HeaderWebhookTimestamp, ts)
	req.Header.Set(HeaderWebhookSignature, WebhookSignature(secret, ts, body))
	resp, err := h.client.Do(req)
	if err != nil {
		if errors.Is(err, egress.ErrAddrRefused) {
			return attempt{err: msgWebhookRefused, permanent: true}
		}
		// The *url.Error names the URL, which may carry a token of the
		// receiver: keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return attempt{err: "no answer: " + err.Error()}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return attempt{ok: true, status: resp.StatusCode}
	}
	return attempt{status: resp.StatusCode, err: "the endpoint answered " + resp.Status}
}

// delay returns the wait before retry n+1 (n retries done): exponential
// from base, capped at max, with equal jitter.
func (h *webhooks) delay(n int) time.Duration {
	d := h.backoff.base
	for i := 0; i < n && d < h.backoff.max; i++ {
		d *= 2
	}
	d = min(d, h.backoff.max)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// handleWebhook sends one pending delivery and records the attempt. A 2xx
// answer makes it delivered; a failure retries it with backoff (counted
// against the task's retries) until the retries are spent, or at once for
// a refused target, and then makes it failed. The delivery is always
// recorded failed before its task could be archived (queue.RetryReserve).
// Deliveries are at least once: receivers deduplicate on
// X-Remediator-Delivery.
func (w *Worker) handleWebhook(ctx context.Context, t *asynq.Task) error {
	p, err := queue.ParseWebhook(t)
	if err != nil {
		return err
	}
	h := w.hooks
	if h == nil {
		// Not counted as a failure: a worker that delivers webhooks takes it.
		return errors.New("worker: webhook delivery is not configured on this worker")
	}
	d, err := h.store.GetDelivery(ctx, p.DeliveryID)
	if remediation.ErrorCode(err) == remediation.ENOTFOUND {
		return nil // deleted with its webhook
	} else if err != nil {
		return fmt.Errorf("worker: load webhook delivery %s: %w", p.DeliveryID, err)
	}
	if d.Status != remediation.DeliveryPending {
		return nil
	}
	hook, err := h.store.GetWebhook(ctx, d.WebhookID)
	if remediation.ErrorCode(err) == remediation.ENOTFOUND {
		return nil
	} else if err != nil {
		return fmt.Errorf("worker: load webhook %s: %w", d.WebhookID, err)
	}

	res := h.send(ctx, hook, d)
	if !res.ok && ctx.Err() != nil {
		// Shutdown or task time-out: run again, not counted.
		return fmt.Errorf("worker: webhook delivery %s interrupted: %w", d.ID, ctx.Err())
	}
	retried, _ := asynq.GetRetryCount(ctx)
	budget := h.maxRetry
	if m, ok := asynq.GetMaxRetry(ctx); ok {
		budget = queue.RetryBudget(m)
	}
	d.Attempts++
	d.LastStatus, d.LastError = res.status, res.err
	switch {
	case res.ok:
		at := h.now().UTC()
		d.Status, d.DeliveredAt = remediation.DeliveryDelivered, &at
	case res.permanent || retried >= budget:
		d.Status = remediation.DeliveryFailed
	}
	sctx, cancel := detached(ctx)
	defer cancel()
	if err := h.store.UpdateDelivery(sctx, d); err != nil {
		return fmt.Errorf("worker: record webhook delivery %s: %w", d.ID, err)
	}
	attrs := []any{slog.String("delivery_id", d.ID), slog.String("webhook_id", d.WebhookID),
		slog.String("tenant_id", d.TenantID), slog.String("event", d.Event), slog.Int("attempts", d.Attempts),
		slog.Int("http_status", d.LastStatus)}
	switch d.Status {
	case remediation.DeliveryDelivered:
		w.log.InfoContext(ctx, "webhook delivered", attrs...)
	case remediation.DeliveryFailed:
		w.log.WarnContext(ctx, "webhook delivery failed for good", append(attrs, slog.String("error", d.LastError))...)
	default:
		return &retryError{err: fmt.Errorf("webhook delivery %s: %s", d.ID, d.LastError), delay: h.delay(retried)}
	}
	return nil
}
