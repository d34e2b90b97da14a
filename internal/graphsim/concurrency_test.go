package graphsim

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestConcurrentRequests(t *testing.T) {
	b := setup(t)
	const workers, perWorker = 8, 39
	var wg sync.WaitGroup
	errs := make(chan string, workers*perWorker)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				var r resp
				switch i % 3 {
				case 0:
					r = b.do(t, http.MethodGet, userPath(userAlice)+"?$select=accountEnabled", b.tokA, nil)
				case 1:
					r = b.do(t, http.MethodPatch, userPath(userAlice), b.tokA, []byte(fmt.Sprintf(`{"accountEnabled":%t}`, w%2 == 0)))
				default:
					r = b.do(t, http.MethodPost, userPath(userAlice)+"/revokeSignInSessions", b.tokA, nil)
				}
				if r.status >= 300 {
					errs <- fmt.Sprintf("worker %d request %d: %d %s", w, i, r.status, r.body)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	u, _ := b.ta.User(userAlice)
	wantRevokes := workers * (perWorker / 3)
	if u.RevokedCount != wantRevokes || u.PatchCount != wantRevokes {
		t.Errorf("revokes %d patches %d", u.RevokedCount, u.PatchCount)
	}
}

func TestOptionsLatency(t *testing.T) {
	b := setup(t, func(o *Options) { o.Latency = 60 * time.Millisecond })
	start := time.Now()
	if r := b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("answered after %v, want >= 60ms", d)
	}
}

// BenchmarkGetUser measures GET /users/{id}?$select over HTTPS with
// parallel clients (run with -bench GetUser).
func BenchmarkGetUser(b *testing.B) {
	bb := setup(b)
	target := bb.srv.URL() + userPath(userAlice) + "?$select=id,accountEnabled,userType"
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, target, nil)
			req.Header.Set("Authorization", "Bearer "+bb.tokA)
			res, err := bb.client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
}
