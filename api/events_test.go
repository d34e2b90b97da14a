package api

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// eventWait bounds every wait for an event.
const eventWait = 10 * time.Second

// setEventTimings makes event streams fast for a test; restored when it
// ends (after its servers, which are closed by cleanups registered later).
func setEventTimings(t *testing.T, poll, keepAlive, maxAge time.Duration, itemsMax int) {
	t.Helper()
	p, k, m, i := eventsPoll, eventsKeepAlive, eventsMaxAge, eventsItemsMax
	eventsPoll, eventsKeepAlive, eventsMaxAge, eventsItemsMax = poll, keepAlive, maxAge, itemsMax
	t.Cleanup(func() { eventsPoll, eventsKeepAlive, eventsMaxAge, eventsItemsMax = p, k, m, i })
}

// sseStream reads an event stream as a client does.
type sseStream struct {
	t      *testing.T
	res    *http.Response
	ctx    context.Context
	cancel context.CancelFunc
	events chan sseEvent // closed at the end of the stream
}

// stream opens GET path with key and checks the 200 answer's headers.
func (cl *client) stream(path, key string) *sseStream {
	cl.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, cl.base+path, nil)
	if err != nil {
		cancel()
		cl.t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+key)
	r.Header.Set("Accept", "text/event-stream")
	res, err := cl.hc.Do(r)
	if err != nil {
		cancel()
		cl.t.Fatalf("GET %s: %v", path, err)
	}
	if res.StatusCode != http.StatusOK {
		cancel()
		res.Body.Close()
		cl.t.Fatalf("GET %s: status %d", path, res.StatusCode)
	}
	if ct, cc := res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"); ct != "text/event-stream" || cc != "no-cache" {
		cl.t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
	}
	s := &sseStream{t: cl.t, res: res, ctx: ctx, cancel: cancel, events: make(chan sseEvent, 100)}
	cl.t.Cleanup(s.close)
	go s.read()
	return s
}

func (s *sseStream) read() {
	defer close(s.events)
	sc := bufio.NewScanner(s.res.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var cur sseEvent
	for sc.Scan() {
		if cur.add(sc.Text()) {
			select {
			case s.events <- cur:
			case <-s.ctx.Done():
				return
			}
			cur = sseEvent{}
		}
	}
}

// close disconnects the client.
func (s *sseStream) close() {
	s.cancel()
	s.res.Body.Close()
}

// next returns the next event, skipping comments unless comments is set;
// ok is false at the end of the stream.
func (s *sseStream) next(comments bool) (sseEvent, bool) {
	s.t.Helper()
	deadline := time.After(eventWait)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return sseEvent{}, false
			}
			if ev.name == "" && !comments {
				continue
			}
			return ev, true
		case <-deadline:
			s.t.Fatalf("no event within %s", eventWait)
		}
	}
}

// want reads the next event and checks its name and that its data
// contains each of parts.
func (s *sseStream) want(name string, parts ...string) sseEvent {
	s.t.Helper()
	ev, ok := s.next(false)
	if !ok {
		s.t.Fatalf("stream ended, want event %s", name)
	}
	if ev.name != name {
		s.t.Fatalf("event %s (%s), want %s", ev.name, ev.data, name)
	}
	for _, p := range parts {
		if !strings.Contains(ev.data, p) {
			s.t.Fatalf("event %s data %s lacks %s", name, ev.data, p)
		}
	}
	return ev
}

// wantEnd checks that the stream ends without another event.
func (s *sseStream) wantEnd() {
	s.t.Helper()
	if ev, ok := s.next(false); ok {
		s.t.Fatalf("event %s (%s) after the end", ev.name, ev.data)
	}
}

// eventsEnv is a server (validated by the OpenAPI harness) with tenant A.
func eventsEnv(t *testing.T) (*env, *client) {
	t.Helper()
	e := newEnv(t)
	e.addTenant(tenantA)
	return e, newValidatedServer(t, newConformance(t), e.srv.Handler())
}

// move applies one transition of item seq of job.
func (e *env) move(jobID string, seq int, from, to remediation.ItemStatus) {
	e.t.Helper()
	tr := remediation.Transition{JobID: jobID, Seq: seq, From: []remediation.ItemStatus{from}, To: to, CountAttempt: to == remediation.ItemRunning}
	if to == remediation.ItemFailed {
		tr.Error = &remediation.ItemError{Code: "Authorization_RequestDenied", Message: "denied"}
	}
	if _, ok, err := e.store.TransitionItem(context.Background(), tr); err != nil || !ok {
		e.t.Fatalf("item %d of %s %s→%s: %v %v", seq, jobID, from, to, ok, err)
	}
}

func TestEventsStreamProgress(t *testing.T) {
	setEventTimings(t, 10*time.Millisecond, time.Hour, time.Hour, eventsItemsMax)
	e, cl := eventsEnv(t)
	j := e.submit(tenantA, "disable_user", "u0@contoso.com", "u1@contoso.com", "u2@contoso.com")
	s := cl.stream("/v1/remediations/"+j.ID+"/events", testAPIKey)
	s.want(eventProgress, `"status":"queued"`, `"pending":3`)

	e.move(j.ID, 0, remediation.ItemPending, remediation.ItemRunning)
	s.want(eventItem, `"identity":"u0@contoso.com"`, `"status":"running"`, `"attempts":1`)
	s.want(eventProgress, `"status":"running"`, `"running":1`, `"pending":2`)

	e.move(j.ID, 0, remediation.ItemRunning, remediation.ItemSucceeded)
	s.want(eventItem, `"identity":"u0@contoso.com"`, `"status":"succeeded"`)
	s.want(eventProgress, `"succeeded":1`, `"running":0`)

	// Two items change between two polls of the store at most: both are
	// sent, in submission order, before the progress.
	e.move(j.ID, 2, remediation.ItemPending, remediation.ItemCanceled)
	e.move(j.ID, 1, remediation.ItemPending, remediation.ItemRunning)
	seen := map[string]string{}
	for {
		ev, ok := s.next(false)
		if !ok {
			t.Fatal("stream ended early")
		}
		if ev.name == eventProgress && strings.Contains(ev.data, `"running":1`) && strings.Contains(ev.data, `"canceled":1`) {
			break
		}
		if ev.name == eventItem {
			for _, id := range []string{"u1@contoso.com", "u2@contoso.com"} {
				if strings.Contains(ev.data, id) {
					seen[id] = ev.data
				}
			}
		}
	}
	if !strings.Contains(seen["u1@contoso.com"], `"running"`) || !strings.Contains(seen["u2@contoso.com"], `"canceled"`) {
		t.Fatalf("item events %v", seen)
	}

	e.move(j.ID, 1, remediation.ItemRunning, remediation.ItemFailed)
	s.want(eventItem, `"identity":"u1@contoso.com"`, `"status":"failed"`, `"code":"Authorization_RequestDenied"`)
	s.want(eventProgress, `"status":"completed"`, `"failed":1`)
	s.want(eventDone, `"status":"completed"`, `"finished_at":"`)
	s.wantEnd()
}

func TestEventsFinishedJob(t *testing.T) {
	setEventTimings(t, 10*time.Millisecond, time.Hour, time.Hour, eventsItemsMax)
	e, cl := eventsEnv(t)
	j := e.finished("disable_user", remediation.ItemSucceeded)
	s := cl.stream("/v1/remediations/"+j.ID+"/events", testAPIKey)
	s.want(eventProgress, `"status":"completed"`)
	s.want(eventDone, `"status":"completed"`, `"succeeded":1`)
	s.wantEnd()

	c := e.submit(tenantA, "disable_user", "u9@contoso.com")
	if _, err := e.store.CancelJob(context.Background(), c.ID); err != nil {
		t.Fatal(err)
	}
	s = cl.stream("/v1/remediations/"+c.ID+"/events", testAPIKey)
	s.want(eventProgress, `"status":"canceled"`)
	s.want(eventDone, `"status":"canceled"`)
	s.wantEnd()
}

func TestEventsAccess(t *testing.T) {
	e, cl := eventsEnv(t)
	e.addTenant(tenantB)
	j := e.submit(tenantA, "disable_user", "u0@contoso.com")
	path := "/v1/remediations/" + j.ID + "/events"
	cl.do(call{method: http.MethodGet, path: path, invalid: true}, http.StatusUnauthorized)
	cl.do(call{method: http.MethodGet, path: path, key: e.key(remediation.RoleAdmin, tenantB)}, http.StatusNotFound)
	cl.do(call{method: http.MethodGet, path: "/v1/remediations/no-such-job/events", key: testAPIKey}, http.StatusNotFound)
	s := cl.stream(path, e.key(remediation.RoleViewer, tenantA))
	s.want(eventProgress, `"id":"`+j.ID+`"`)
}

func TestEventsKeepAlive(t *testing.T) {
	setEventTimings(t, 10*time.Millisecond, 20*time.Millisecond, time.Hour, eventsItemsMax)
	e, cl := eventsEnv(t)
	j := e.submit(tenantA, "disable_user", "u0@contoso.com")
	s := cl.stream("/v1/remediations/"+j.ID+"/events", testAPIKey)
	s.want(eventProgress)
	for range 3 {
		ev, ok := s.next(true)
		if !ok || ev.name != "" || ev.comment != "keep-alive" {
			t.Fatalf("got %+v (%v), want a keep-alive comment", ev, ok)
		}
	}
}

func TestEventsLargeJobCountsOnly(t *testing.T) {
	setEventTimings(t, 10*time.Millisecond, time.Hour, time.Hour, 2)
	e, cl := eventsEnv(t)
	j := e.submit(tenantA, "disable_user", "u0@contoso.com", "u1@contoso.com", "u2@contoso.com")
	s := cl.stream("/v1/remediations/"+j.ID+"/events", testAPIKey)
	s.want(eventProgress, `"pending":3`)
	e.move(j.ID, 1, remediation.ItemPending, remediation.ItemRunning)
	s.want(eventProgress, `"running":1`) // no item event before it
}

func TestEventsEndWithoutDone(t *testing.T) {
	t.Run("client gone", func(t *testing.T) {
		setEventTimings(t, 10*time.Millisecond, time.Hour, time.Hour, eventsItemsMax)
		e := newEnv(t)
		e.addTenant(tenantA)
		j := e.submit(tenantA, "disable_user", "u0@contoso.com")
		ts := httptest.NewServer(e.srv.Handler())
		cl := &client{t: t, base: ts.URL, hc: ts.Client()}
		s := cl.stream("/v1/remediations/"+j.ID+"/events", testAPIKey)
		s.want(eventProgress)
		s.close()
		closed := make(chan struct{})
		go func() { ts.Close(); close(closed) }() // waits for the handler
		select {
		case <-closed:
		case <-time.After(eventWait):
			t.Fatal("the stream's handler still runs after the client went away")
		}
	})
	t.Run("max age", func(t *testing.T) {
		setEventTimings(t, 10*time.Millisecond, time.Hour, 100*time.Millisecond, eventsItemsMax)
		e, cl := eventsEnv(t)
		j := e.submit(tenantA, "disable_user", "u0@contoso.com")
		s := cl.stream("/v1/remediations/"+j.ID+"/events", testAPIKey)
		s.want(eventProgress)
		s.wantEnd()
	})
	t.Run("shutdown", func(t *testing.T) {
		setEventTimings(t, 10*time.Millisecond, time.Hour, time.Hour, eventsItemsMax)
		e := newEnv(t)
		e.addTenant(tenantA)
		j := e.submit(tenantA, "disable_user", "u0@contoso.com")
		if err := e.srv.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.srv.Shutdown(context.Background()) })
		cl := &client{t: t, base: "http://" + e.srv.Addr(), hc: &http.Client{}}
		s := cl.stream("/v1/remediations/"+j.ID+"/events", testAPIKey)
		s.want(eventProgress)
		ctx, cancel := context.WithTimeout(context.Background(), eventWait)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Fatalf("shutdown with an open stream: %v", err)
		}
		s.wantEnd()
	})
}

// TestEventsOutliveServerTimeouts streams through a server whose read and
// write timeouts are far shorter than the stream: neither may end it.
func TestEventsOutliveServerTimeouts(t *testing.T) {
	setEventTimings(t, 10*time.Millisecond, 25*time.Millisecond, time.Hour, eventsItemsMax)
	e := newEnv(t)
	e.addTenant(tenantA)
	j := e.submit(tenantA, "disable_user", "u0@contoso.com")
	ts := httptest.NewUnstartedServer(e.srv.Handler())
	ts.Config.ReadTimeout, ts.Config.WriteTimeout = 150*time.Millisecond, 150*time.Millisecond
	ts.Start()
	t.Cleanup(ts.Close)
	cl := &client{t: t, base: ts.URL, hc: ts.Client()}
	s := cl.stream("/v1/remediations/"+j.ID+"/events", testAPIKey)
	s.want(eventProgress)
	start := time.Now()
	for time.Since(start) < 600*time.Millisecond { // four times the timeouts
		if ev, ok := s.next(true); !ok || ev.comment != "keep-alive" {
			t.Fatalf("got %+v (%v) after %s, want keep-alives", ev, ok, time.Since(start))
		}
	}
	e.move(j.ID, 0, remediation.ItemPending, remediation.ItemRunning)
	s.want(eventItem, `"status":"running"`)
}
