package worker_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/internal/secrets"
	"github.com/entraremediator/remediator/worker"
)

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint: answer(n) is the status of its n-th
// request (from 0).
type receiver struct {
	srv      *httptest.Server
	answer   func(n int) int
	location string // Location header of every answer, if set
	conns    atomic.Int32
	mu       sync.Mutex
	reqs     []received
	got      chan int // receives n when request n arrives
}

func newReceiver(t *testing.T, tls bool, answer func(n int) int) *receiver {
	t.Helper()
	return newReceiverWith(t, tls, "", answer)
}

func newReceiverWith(t *testing.T, tls bool, location string, answer func(n int) int) *receiver {
	t.Helper()
	r := &receiver{answer: answer, location: location, got: make(chan int, 100)}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.reqs)
		r.reqs = append(r.reqs, received{header: req.Header.Clone(), body: body})
		r.mu.Unlock()
		r.got <- n
		if r.location != "" {
			w.Header().Set("Location", r.location)
		}
		w.WriteHeader(r.answer(n))
	}))
	r.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			r.conns.Add(1)
		}
	}
	if tls {
		r.srv.StartTLS()
	} else {
		r.srv.Start()
	}
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.reqs...)
}

// hookEnv is a bundle whose worker delivers webhooks.
type hookEnv struct {
	*bundle
	box remediation.SecretBox
}

func newHookEnv(t *testing.T) *hookEnv {
	t.Helper()
	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key)
	box, err := secrets.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	return &hookEnv{bundle: setup(t, options{noStart: true}), box: box}
}

// start starts a worker delivering webhooks with test timings, changed by mod.
func (e *hookEnv) start(mod func(*worker.WebhookConfig)) {
	e.t.Helper()
	e.startWith(nil, func(c *worker.Config) {
		c.Webhooks = worker.WebhookConfig{Store: e.store, Box: e.box, AllowPrivate: true, MaxRetry: 3,
			BaseBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, SweepInterval: 50 * time.Millisecond}
		if mod != nil {
			mod(&c.Webhooks)
		}
	})
}

// webhook registers a webhook of the bundle's tenant and returns it with
// its signing secret.
func (e *hookEnv) webhook(url string, events ...string) (*remediation.Webhook, string) {
	e.t.Helper()
	secret := "whsec_" + uuid.NewString()
	sealed, keyID, err := e.box.Seal([]byte(secret))
	if err != nil {
		e.t.Fatal(err)
	}
	w := &remediation.Webhook{ID: uuid.NewString(), TenantID: e.tenant.ID(), URL: url, Events: events,
		CreatedBy: "test", SecretCiphertext: sealed, SecretKeyID: keyID}
	if err := e.store.CreateWebhook(e.ctx, w); err != nil {
		e.t.Fatal(err)
	}
	return w, secret
}

// delivery records a pending job.finished delivery to w.
func (e *hookEnv) delivery(w *remediation.Webhook) *remediation.WebhookDelivery {
	e.t.Helper()
	d := &remediation.WebhookDelivery{ID: uuid.NewString(), WebhookID: w.ID, Event: remediation.EventJobFinished,
		Payload: json.RawMessage(`{"event":"job.finished","job":{"id":"` + uuid.NewString() + `"}}`)}
	if err := e.store.EnqueueDelivery(e.ctx, d); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// waitDelivery polls until the delivery has status.
func (e *hookEnv) waitDelivery(id, status string, within time.Duration) *remediation.WebhookDelivery {
	e.t.Helper()
	var d *remediation.WebhookDelivery
	e.eventually(within, "delivery "+id+" to be "+status, func() bool {
		var err error
		if d, err = e.store.GetDelivery(e.ctx, id); err != nil {
			e.t.Fatal(err)
		}
		return d.Status == status
	})
	return d
}

// wantSigned checks the headers, body and signature of a request for d.
func wantSigned(t *testing.T, r received, d *remediation.WebhookDelivery, secret string) {
	t.Helper()
	ts := r.header.Get("X-Remediator-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute {
		t.Errorf("X-Remediator-Timestamp = %q, want the unix time in seconds", ts)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(r.body)))
	if got, want := r.header.Get("X-Remediator-Signature"), "v1="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("X-Remediator-Signature = %q, want %q", got, want)
	}
	if got := r.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if r.header.Get("X-Remediator-Event") != d.Event || r.header.Get("X-Remediator-Delivery") != d.ID {
		t.Errorf("event %q delivery %q, want %q %q", r.header.Get("X-Remediator-Event"),
			r.header.Get("X-Remediator-Delivery"), d.Event, d.ID)
	}
	if string(r.body) != string(d.Payload) {
		t.Errorf("body = %s, want the stored payload %s", r.body, d.Payload)
	}
}

func TestWebhookJobEvents(t *testing.T) {
	e := newHookEnv(t)
	rcv := newReceiver(t, false, func(int) int { return http.StatusNoContent })
	hook, secret := e.webhook(rcv.srv.URL+"/hook?k=1", remediation.EventJobFinished, remediation.EventItemFailed)
	e.start(nil)

	job := e.submit(remediation.ActionRevokeSessions, "urgent", "ghost@contoso.com")
	e.waitJob(job.ID, 20*time.Second)
	var list []*remediation.WebhookDelivery
	e.eventually(20*time.Second, "two deliveries delivered", func() bool {
		var err error
		if list, err = e.store.ListDeliveries(e.ctx, hook.ID, 10); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, d := range list {
			if d.Status == remediation.DeliveryDelivered {
				n++
			}
		}
		return n == 2
	})
	reqs := rcv.requests()
	if len(reqs) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(reqs))
	}
	byID := map[string]*remediation.WebhookDelivery{}
	for _, d := range list {
		byID[d.ID] = d
		if d.Attempts != 1 || d.LastStatus != http.StatusNoContent || d.LastError != "" || d.DeliveredAt == nil {
			t.Errorf("delivery = %+v, want delivered at the first attempt", d)
		}
	}
	for _, r := range reqs {
		d := byID[r.header.Get("X-Remediator-Delivery")]
		if d == nil {
			t.Fatalf("request for an unknown delivery %q", r.header.Get("X-Remediator-Delivery"))
		}
		wantSigned(t, r, d, secret)
		switch d.Event {
		case remediation.EventItemFailed:
			var p remediation.ItemFailedPayload
			if err := json.Unmarshal(r.body, &p); err != nil || p.Item.JobID != job.ID ||
				p.Item.Identity != "ghost@contoso.com" || p.Item.Error == nil || p.Item.TenantID != e.tenant.ID() {
				t.Errorf("item.failed body = %s (%v)", r.body, err)
			}
		case remediation.EventJobFinished:
			var p remediation.JobFinishedPayload
			if err := json.Unmarshal(r.body, &p); err != nil || p.Job.ID != job.ID ||
				p.Job.Status != remediation.JobCompleted || p.Job.Counts[remediation.ItemFailed] != 1 {
				t.Errorf("job.finished body = %s (%v)", r.body, err)
			}
		}
	}
}

func TestWebhookRetriesThenDelivered(t *testing.T) {
	e := newHookEnv(t)
	release := make(chan struct{})
	rcv := newReceiver(t, false, func(n int) int {
		switch n {
		case 0:
			return http.StatusInternalServerError
		case 1:
			<-release
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	hook, secret := e.webhook(rcv.srv.URL, remediation.EventJobFinished)
	d := e.delivery(hook)
	e.start(nil)

	select {
	case <-rcv.got:
	case <-time.After(20 * time.Second):
		t.Fatal("no first attempt")
	}
	select {
	case <-rcv.got: // the second attempt waits for release
	case <-time.After(20 * time.Second):
		t.Fatal("no second attempt")
	}
	got, err := e.store.GetDelivery(e.ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != remediation.DeliveryPending || got.Attempts != 1 || got.LastStatus != 500 ||
		!strings.Contains(got.LastError, "500") || got.DeliveredAt != nil {
		t.Fatalf("after a failed attempt: %+v", got)
	}
	close(release)
	got = e.waitDelivery(d.ID, remediation.DeliveryDelivered, 20*time.Second)
	if got.Attempts != 3 || got.LastStatus != 200 || got.LastError != "" || got.DeliveredAt == nil {
		t.Fatalf("delivered: %+v", got)
	}
	reqs := rcv.requests()
	if len(reqs) != 3 {
		t.Fatalf("receiver got %d requests, want 3", len(reqs))
	}
	for _, r := range reqs {
		wantSigned(t, r, d, secret)
	}
}

func TestWebhookGivesUpAfterMaxRetry(t *testing.T) {
	e := newHookEnv(t)
	rcv := newReceiver(t, false, func(int) int { return http.StatusServiceUnavailable })
	hook, _ := e.webhook(rcv.srv.URL, remediation.EventJobFinished)
	d := e.delivery(hook)
	e.start(func(c *worker.WebhookConfig) { c.MaxRetry = 2 })

	got := e.waitDelivery(d.ID, remediation.DeliveryFailed, 30*time.Second)
	if got.Attempts != 3 || got.LastStatus != 503 || !strings.Contains(got.LastError, "503") || got.DeliveredAt != nil {
		t.Fatalf("failed delivery: %+v", got)
	}
	e.waitDrained(10 * time.Second)
	if n := len(rcv.requests()); n != 3 {
		t.Fatalf("receiver got %d requests, want 3 (1 + MaxRetry)", n)
	}
	// The worker recorded the failure itself: nothing was archived.
	if tasks, err := e.insp.ListArchivedTasks("control"); err != nil || len(tasks) != 0 {
		t.Fatalf("archived tasks = %v, %v; want none", tasks, err)
	}
}

func TestWebhookPrivateTargetRefused(t *testing.T) {
	e := newHookEnv(t)
	rcv := newReceiver(t, true, func(int) int { return http.StatusOK })
	_, port, _ := net.SplitHostPort(rcv.srv.Listener.Addr().String())
	var ds []*remediation.WebhookDelivery
	for _, host := range []string{"127.0.0.1", "localhost", "[::1]"} {
		hook, _ := e.webhook("https://"+host+":"+port+"/hook", remediation.EventJobFinished)
		ds = append(ds, e.delivery(hook))
	}
	e.start(func(c *worker.WebhookConfig) { c.AllowPrivate = false })

	for _, d := range ds {
		got := e.waitDelivery(d.ID, remediation.DeliveryFailed, 20*time.Second)
		if got.Attempts != 1 || got.LastStatus != 0 || !strings.Contains(got.LastError, "internal address") ||
			strings.Contains(got.LastError, "127.0.0.1") {
			t.Errorf("refused delivery: %+v", got)
		}
	}
	if n := rcv.conns.Load(); n != 0 {
		t.Fatalf("receiver saw %d connections, want none", n)
	}
}

func TestWebhookRedirectNotFollowed(t *testing.T) {
	e := newHookEnv(t)
	target := newReceiver(t, false, func(int) int { return http.StatusOK })
	rcv := newReceiverWith(t, false, target.srv.URL, func(int) int { return http.StatusTemporaryRedirect })
	hook, _ := e.webhook(rcv.srv.URL, remediation.EventJobFinished)
	d := e.delivery(hook)
	e.start(func(c *worker.WebhookConfig) { c.MaxRetry = 1 })

	got := e.waitDelivery(d.ID, remediation.DeliveryFailed, 20*time.Second)
	if got.Attempts != 2 || got.LastStatus != http.StatusTemporaryRedirect {
		t.Fatalf("redirected delivery: %+v", got)
	}
	if n := target.conns.Load(); n != 0 {
		t.Fatalf("redirect target saw %d connections, want none", n)
	}
}

func TestWebhookConfigNeedsStoreAndBox(t *testing.T) {
	e := newHookEnv(t)
	if _, err := e.newWorker(func(c *worker.Config) { c.Webhooks = worker.WebhookConfig{Store: e.store} }); err == nil {
		t.Fatal("New with a webhook store and no box succeeded")
	}
	if _, err := e.newWorker(func(c *worker.Config) {
		c.Webhooks = worker.WebhookConfig{Store: e.store, Box: e.box, BaseBackoff: time.Minute, MaxBackoff: time.Second}
	}); err == nil {
		t.Fatal("New with MaxBackoff below BaseBackoff succeeded")
	}
}

func TestWebhookSignature(t *testing.T) {
	// Known answer: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
	const want = "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
	if got := worker.WebhookSignature([]byte("whsec_test"), "1700000000", []byte(`{"a":1}`)); got != want {
		t.Fatalf("WebhookSignature = %s, want %s", got, want)
	}
}
