package graphsim

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

func patchAlice(b *bundle, t *testing.T, tok string) resp {
	t.Helper()
	return b.do(t, http.MethodPatch, userPath(userAlice), tok, []byte(`{"accountEnabled":true}`))
}

func TestQuotasOffByDefault(t *testing.T) {
	b := setup(t)
	for i := range 50 {
		if r := patchAlice(b, t, b.tokA); r.status != 204 || r.header.Get("x-ms-resource-unit") != "1" {
			t.Fatalf("write %d: %d %v", i, r.status, r.header)
		}
	}
	if st := b.ta.Stats(); st.Writes != 50 || st.Throttled != 0 || st.Requests != 50 || st.ResourceUnits != 50 {
		t.Errorf("stats %+v", st)
	}
}

func TestResourceUnitCosts(t *testing.T) {
	b := setup(t, noCALimit)
	addGroups(b)
	for _, tc := range []struct {
		method, path, ru string
	}{
		{"GET", userPath(userAlice), "1"},
		{"GET", userPath(userAlice) + "?$select=id,accountEnabled", "1"},
		{"GET", "/v1.0/groups", "2"},
		{"GET", "/v1.0/groups?$select=id", "1"},
		{"GET", userPath(userAlice) + "/memberOf/microsoft.graph.group", "2"},
		{"GET", userPath(userAlice) + "/transitiveMemberOf/microsoft.graph.directoryRole", "2"},
		{"GET", raPath + filterQuery("principalId eq '"+userAlice+"'"), "2"},
		{"GET", raPath + "?$expand=principal", "3"},
		{"POST", userPath(userAlice) + "/revokeSignInSessions", "1"},
		{"GET", caPath, "1"},
	} {
		r := b.do(t, tc.method, tc.path, b.tokA, nil)
		if got := r.header.Get("x-ms-resource-unit"); got != tc.ru {
			t.Errorf("%s %s: x-ms-resource-unit %q, want %s", tc.method, tc.path, got, tc.ru)
		}
	}
}

func TestResourceUnitQuota(t *testing.T) {
	b := setup(t, func(o *Options) { o.Quotas = &Quotas{ResourceUnits: 10} })
	fc := useFakeClock(b)
	for i := range 10 {
		r := b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil)
		if r.status != 200 {
			t.Fatalf("read %d: %d", i, r.status)
		}
		// x-ms-throttle-limit-percentage appears above 80 % of the limit.
		if pct := r.header.Get("x-ms-throttle-limit-percentage"); (i >= 8) != (pct != "") || (i == 8 && pct != "0.90") {
			t.Errorf("read %d: x-ms-throttle-limit-percentage %q", i, pct)
		}
	}
	r := b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil)
	r.wantError(t, 429, "TooManyRequests", "")
	if r.header.Get("Retry-After") != "10" || r.header.Get("x-sim-retry-after-ms") != "10000" ||
		r.header.Get("x-ms-throttle-scope") != "Tenant_Application/ReadWrite/"+clientA+"/"+tenantA ||
		r.header.Get("x-ms-throttle-information") != "ResourceUnitLimitExceeded" || r.header.Get("x-ms-resource-unit") != "1" {
		t.Errorf("429 headers %v", r.header)
	}
	fc.Advance(9900 * time.Millisecond)
	if r := b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil); r.status != 429 || r.header.Get("x-sim-retry-after-ms") != "100" {
		t.Errorf("at 9.9 s: %d %v", r.status, r.header)
	}
	fc.Advance(100 * time.Millisecond)
	if r := b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil); r.status != 200 {
		t.Errorf("after the window: %d", r.status)
	}
	// Tenant B is not affected; writes are limited by resource units too.
	if r := b.do(t, http.MethodGet, userPath(userAlice), b.tokB, nil); r.status != 404 {
		t.Errorf("tenant B: %d", r.status)
	}
	if st := b.ta.Stats(); st.Throttled != 2 || st.Reads != 11 || st.Requests != 13 {
		t.Errorf("stats %+v", st)
	}
}

func TestThrottledRetriesProlongThrottling(t *testing.T) {
	b := setup(t, func(o *Options) { o.Quotas = &Quotas{ResourceUnits: 5} })
	fc := useFakeClock(b)
	get := func() int { return b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil).status }
	for range 5 {
		get()
	}
	fc.Advance(5 * time.Second)
	for range 6 { // hammering: each refusal still costs (up to 1.8 x the limit)
		if s := get(); s != 429 {
			t.Fatalf("hammer: %d", s)
		}
	}
	fc.Advance(5 * time.Second) // the first 5 left the window, the refusals did not
	var ok int
	for range 5 {
		if get() == 200 {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d requests admitted after hammering, want 1 (5 without)", ok)
	}
}

func TestWriteQuota(t *testing.T) {
	b := setup(t, func(o *Options) { o.Quotas = &Quotas{Writes: 5} })
	fc := useFakeClock(b)
	for i := range 5 {
		if r := patchAlice(b, t, b.tokA); r.status != 204 {
			t.Fatalf("write %d: %d", i, r.status)
		}
		fc.Advance(time.Second)
	}
	r := patchAlice(b, t, b.tokA)
	r.wantError(t, 429, "TooManyRequests", "")
	if r.header.Get("Retry-After") != "145" || r.header.Get("x-ms-throttle-information") != "WriteLimitExceeded" ||
		r.header.Get("x-ms-throttle-scope") != "Tenant_Application/Write/"+clientA+"/"+tenantA {
		t.Errorf("429 headers %v", r.header)
	}
	if u, _ := b.ta.User(userAlice); u.PatchCount != 5 {
		t.Errorf("throttled write applied: %d patches", u.PatchCount)
	}
	// Reads are still allowed while writes are throttled.
	if r := b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil); r.status != 200 {
		t.Errorf("read: %d", r.status)
	}
	fc.Advance(145 * time.Second)
	if r := patchAlice(b, t, b.tokA); r.status != 204 {
		t.Errorf("after Retry-After: %d", r.status)
	}
}

func TestTenantAndAppWriteQuotas(t *testing.T) {
	b := setup(t, func(o *Options) { o.Quotas = &Quotas{TenantWrites: 3} })
	useFakeClock(b)
	for range 3 {
		patchAlice(b, t, b.tokA)
	}
	r := patchAlice(b, t, b.tokA)
	if r.status != 429 || r.header.Get("x-ms-throttle-scope") != "Tenant/Write/"+clientA+"/"+tenantA {
		t.Errorf("tenant quota: %d %v", r.status, r.header)
	}

	// A multi-tenant app: two tenants share one client id and its app quota.
	s := b.srv
	shared := "cccccccc-0000-4000-8000-00000000000c"
	q := &Quotas{AppWrites: 4}
	var toks []string
	for i := range 2 {
		tn := s.AddTenant(TenantSpec{ID: fmt.Sprintf("3333333%d-3333-4333-8333-333333333333", i), ClientID: shared})
		tn.SetQuotas(q)
		tn.AddUser(UserSpec{ID: userAlice, UserPrincipalName: upnAlice, AccountEnabled: true})
		tok, err := s.IssueToken(tn.ID(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	var statuses []int
	for i := range 6 {
		statuses = append(statuses, patchAlice(b, t, toks[i%2]).status)
	}
	if !slices.Equal(statuses, []int{204, 204, 204, 204, 429, 429}) {
		t.Errorf("app quota across tenants: %v", statuses)
	}
	r = patchAlice(b, t, toks[0])
	if r.header.Get("x-ms-throttle-scope") != "Application/Write/"+shared+"/33333330-3333-4333-8333-333333333333" {
		t.Errorf("scope %q", r.header.Get("x-ms-throttle-scope"))
	}
}

func TestResourceUnitTierByDirectorySize(t *testing.T) {
	s, err := New(Options{Quotas: &Quotas{}})
	if err != nil {
		t.Fatal(err)
	}
	tn := s.AddTenant(TenantSpec{})
	admitted := func() int {
		n := 0
		for {
			if _, th := s.admit(tn, 1, false, false); th != nil {
				return n
			}
			n++
		}
	}
	if n := admitted(); n != 3500 {
		t.Errorf("small tenant admitted %d", n)
	}
	for i := range 50 {
		tn.AddUser(UserSpec{UserPrincipalName: fmt.Sprint("u", i, "@x.example")})
	}
	// 5,000 now, minus the 3,500 admitted and the one refused (it counts too).
	if n := admitted(); n != 1499 {
		t.Errorf("medium tenant admitted %d more, want 1,499", n)
	}
	if tierRU(49) != 3500 || tierRU(50) != 5000 || tierRU(500) != 5000 || tierRU(501) != 8000 {
		t.Errorf("tiers")
	}
}

func TestTimeScale(t *testing.T) {
	b := setup(t, func(o *Options) {
		o.TimeScale = 10
		o.Quotas = &Quotas{Writes: 2, ResourceUnits: 1000}
	})
	fc := useFakeClock(b)
	patchAlice(b, t, b.tokA)
	patchAlice(b, t, b.tokA)
	r := patchAlice(b, t, b.tokA)
	if r.status != 429 || r.header.Get("Retry-After") != "15" || r.header.Get("x-sim-retry-after-ms") != "15000" {
		t.Errorf("scaled write window: %d %v", r.status, r.header)
	}
	fc.Advance(14990 * time.Millisecond)
	if r := patchAlice(b, t, b.tokA); r.header.Get("Retry-After") != "1" || r.header.Get("x-sim-retry-after-ms") != "10" {
		t.Errorf("Retry-After rounding: %v", r.header)
	}
	fc.Advance(10 * time.Millisecond)
	if r := patchAlice(b, t, b.tokA); r.status != 204 {
		t.Errorf("after the scaled window: %d", r.status)
	}
}

func TestStatsAndWriteTimeline(t *testing.T) {
	b := setup(t, func(o *Options) { o.Quotas = &Quotas{Writes: 3} })
	fc := useFakeClock(b)
	patchAlice(b, t, b.tokA)
	patchAlice(b, t, b.tokA)
	fc.Advance(1500 * time.Millisecond)
	patchAlice(b, t, b.tokA)
	patchAlice(b, t, b.tokA) // throttled: not in the timeline
	b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil)
	fc.Advance(1700 * time.Millisecond)
	b.do(t, http.MethodGet, "/v1.0/nothing/here", b.tokA, nil)
	if tl := b.ta.WriteTimeline(); !slices.Equal(tl, []int{2, 1}) {
		t.Errorf("timeline %v", tl)
	}
	want := TenantStats{Requests: 6, Reads: 1, Writes: 3, Throttled: 1, ResourceUnits: 4}
	if st := b.ta.Stats(); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}

func TestInjectedThrottleScopeFormat(t *testing.T) {
	b := setup(t)
	b.srv.InjectFault(FaultSpec{Operation: "PATCH /users/{id}", Status: 429, Times: 1})
	r := patchAlice(b, t, b.tokA)
	// <Scope>/<Limit>/<ApplicationId>/<TenantId>
	if r.header.Get("x-ms-throttle-scope") != "Tenant_Application/ReadWrite/"+clientA+"/"+tenantA {
		t.Errorf("scope %q", r.header.Get("x-ms-throttle-scope"))
	}
}

// BenchmarkAdmit measures the quota check alone (all windows on).
func BenchmarkAdmit(b *testing.B) {
	s, err := New(Options{Quotas: &Quotas{ResourceUnits: 1 << 40, Writes: 1 << 40, TenantWrites: 1 << 40,
		AppWrites: 1 << 40, AppResourceUnits: 1 << 40}})
	if err != nil {
		b.Fatal(err)
	}
	tn := s.AddTenant(TenantSpec{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, th := s.admit(tn, 1, true, false); th != nil {
				b.Error("throttled")
				return
			}
		}
	})
}

func TestWriteQuotaUnderConcurrency(t *testing.T) {
	b := setup(t, func(o *Options) { o.Quotas = &Quotas{Writes: 100} })
	useFakeClock(b) // frozen: nothing leaves the window
	const workers, each = 8, 30
	var (
		mu       sync.Mutex
		admitted int
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				r := b.do(t, http.MethodPost, userPath(userAlice)+"/revokeSignInSessions", b.tokA, nil)
				mu.Lock()
				if r.status == 200 {
					admitted++
				} else if r.status != 429 {
					t.Errorf("status %d", r.status)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	u, _ := b.ta.User(userAlice)
	if st := b.ta.Stats(); admitted != 100 || u.RevokedCount != 100 || st.Writes != 100 || st.Throttled != workers*each-100 {
		t.Errorf("admitted %d, revoked %d, stats %+v", admitted, u.RevokedCount, st)
	}
}
