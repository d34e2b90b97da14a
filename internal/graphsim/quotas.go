package graphsim

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Quotas configures Graph's identity-and-access throttling (Microsoft Graph
// "service-specific throttling limits"): resource units (RU) and writes per
// sliding window. Every request costs resource units (a GET 1, a list or a
// memberOf/transitiveMemberOf 2, $select -1 and $expand +1 with a minimum
// of 1, a write 1) and a write also costs one write. Conditional Access
// requests have their own limit (Options.CARequestsPerSecond) and do not
// count here.
//
// A zero field means Graph's value; a negative field turns that limit off.
// Throttled requests keep counting against the resource-unit windows (up to
// 1.8 times the limit, the top of x-ms-throttle-limit-percentage), so
// immediate retries prolong throttling as they do at Microsoft.
type Quotas struct {
	// ResourceUnits per ResourceUnitWindow per app+tenant; 0 = by directory
	// size: 3,500 (under 50 users), 5,000 (50 to 500), 8,000 (above 500).
	ResourceUnits      int
	ResourceUnitWindow time.Duration // 0 = 10 s
	// Writes per WriteWindow per app+tenant; 0 = 3,000 per 150 s.
	Writes      int
	WriteWindow time.Duration
	// TenantWrites per TenantWriteWindow per tenant across apps; 0 = 18,000
	// per 5 min.
	TenantWrites      int
	TenantWriteWindow time.Duration
	// AppResourceUnits per AppResourceUnitWindow per app across tenants;
	// 0 = 150,000 per 20 s.
	AppResourceUnits      int
	AppResourceUnitWindow time.Duration
	// AppWrites per AppWriteWindow per app (client id) across tenants;
	// 0 = 70,000 per 5 min.
	AppWrites      int
	AppWriteWindow time.Duration
}

// limit is one resolved quota: at most n per win (already time-scaled);
// n == 0 means off.
type limit struct {
	n   int64
	win time.Duration
}

func resolve(n, def int, win, defWin time.Duration, scale float64) limit {
	switch {
	case n < 0:
		return limit{}
	case n == 0:
		n = def
	}
	if win <= 0 {
		win = defWin
	}
	return limit{int64(n), scaleDur(win, scale)}
}

func scaleDur(d time.Duration, scale float64) time.Duration {
	if scale <= 0 || scale == 1 {
		return d
	}
	return max(time.Duration(float64(d)/scale), time.Microsecond)
}

// tierRU is the app+tenant resource-unit quota for a directory of n users.
func tierRU(users int64) int {
	switch {
	case users < 50:
		return 3500
	case users <= 500:
		return 5000
	}
	return 8000
}

// TenantStats counts a tenant's Graph traffic since it was added.
type TenantStats struct {
	Requests      int   // authenticated Graph requests, whatever the answer
	Reads         int   // admitted GET requests
	Writes        int   // admitted requests of other methods
	Throttled     int   // 429 answers from quotas and the CA limit (not faults)
	ResourceUnits int64 // resource units of admitted requests
	CARequests    int   // admitted Conditional Access requests
	CAThrottled   int   // Conditional Access requests answered 429
	CAWrites      int   // successful Conditional Access policy writes
}

// tenantQuota is a tenant's throttling state and traffic counters.
type tenantQuota struct {
	mu       sync.Mutex
	q        *Quotas // nil: identity quotas off
	caRate   float64 // CA requests per second; <= 0: off
	start    time.Duration
	ru, wr   slidingWindow // app+tenant
	tenantWr slidingWindow
	ca       slidingWindow
	stats    TenantStats
	timeline []int
}

// appQuota is the per-app (client id) state across tenants.
type appQuota struct {
	mu     sync.Mutex
	ru, wr slidingWindow
}

// SetQuotas turns the tenant's identity-and-access quotas on (a copy of q;
// see Quotas) or off (nil). Windows already filled keep their contents.
func (t *Tenant) SetQuotas(q *Quotas) {
	t.q.mu.Lock()
	defer t.q.mu.Unlock()
	if q == nil {
		t.q.q = nil
		return
	}
	c := *q
	t.q.q = &c
}

// SetCARequestsPerSecond sets the tenant's Conditional Access rate (Graph:
// 1 per second per tenant across apps); r <= 0 turns the limit off.
func (t *Tenant) SetCARequestsPerSecond(r float64) {
	t.q.mu.Lock()
	t.q.caRate = r
	t.q.mu.Unlock()
}

// Stats returns the tenant's traffic counters.
func (t *Tenant) Stats() TenantStats {
	t.q.mu.Lock()
	defer t.q.mu.Unlock()
	return t.q.stats
}

// CAWrites returns the number of successful Conditional Access policy
// writes (create, update, delete).
func (t *Tenant) CAWrites() int { return t.Stats().CAWrites }

// WriteTimeline returns the admitted writes per wall-clock second since the
// tenant was added (index 0 is the first second).
func (t *Tenant) WriteTimeline() []int {
	t.q.mu.Lock()
	defer t.q.mu.Unlock()
	return append([]int(nil), t.q.timeline...)
}

// noteCAWrite counts a successful Conditional Access write.
func (t *Tenant) noteCAWrite() {
	t.q.mu.Lock()
	t.q.stats.CAWrites++
	t.q.mu.Unlock()
}

// countRequest counts a request that is not admitted (no route, etc.).
func (t *Tenant) countRequest() {
	t.q.mu.Lock()
	t.q.stats.Requests++
	t.q.mu.Unlock()
}

// throttled describes a 429 answer.
type throttled struct {
	retryAfter  time.Duration // 0: no Retry-After (Conditional Access)
	scope, info string
}

// since returns the simulator clock as a duration since the server epoch.
func (s *Server) since() time.Duration { return s.clock().Sub(s.epoch) }

// clock returns the quota clock's time.
func (s *Server) clock() time.Time { return (*s.clockFn.Load())() }

// setClock replaces the quota clock (tests).
func (s *Server) setClock(f func() time.Time) { s.clockFn.Store(&f) }

// app returns the per-app quota state of clientID.
func (s *Server) app(clientID string) *appQuota {
	s.mu.RLock()
	a := s.apps[clientID]
	s.mu.RUnlock()
	if a != nil {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a = s.apps[clientID]; a == nil {
		a = &appQuota{}
		s.apps[clientID] = a
	}
	return a
}

// admit applies the Conditional Access limit or the identity quotas to one
// routed request of cost resource units. It returns the usage ratio of the
// fullest app+tenant window (for x-ms-throttle-limit-percentage) and, when
// the request must be refused, the 429 to answer.
func (s *Server) admit(t *Tenant, cost int, write, ca bool) (ratio float64, th *throttled) {
	now := s.since()
	q := &t.q
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stats.Requests++
	if ca {
		if q.caRate > 0 {
			win := scaleDur(time.Duration(float64(time.Second)/q.caRate), s.opts.TimeScale)
			q.ca.evict(now, win)
			if q.ca.used() >= 1 {
				q.stats.Throttled++
				q.stats.CAThrottled++
				return 0, &throttled{} // no Retry-After, no throttle headers
			}
			q.ca.add(now, 1)
		}
		q.stats.CARequests++
		q.noteAdmitted(now, 0, write)
		return 0, nil
	}
	if q.q == nil {
		q.noteAdmitted(now, int64(cost), write)
		return 0, nil
	}
	sc := s.opts.TimeScale
	qq := q.q
	ru := resolve(qq.ResourceUnits, tierRU(t.userCount.Load()), qq.ResourceUnitWindow, 10*time.Second, sc)
	wr := resolve(qq.Writes, 3000, qq.WriteWindow, 150*time.Second, sc)
	twr := resolve(qq.TenantWrites, 18000, qq.TenantWriteWindow, 5*time.Minute, sc)
	aru := resolve(qq.AppResourceUnits, 150000, qq.AppResourceUnitWindow, 20*time.Second, sc)
	awr := resolve(qq.AppWrites, 70000, qq.AppWriteWindow, 5*time.Minute, sc)

	a := s.app(t.clientID)
	a.mu.Lock()
	defer a.mu.Unlock()
	var arr [5]quotaCheck
	arr[0] = quotaCheck{&q.ru, ru, int64(cost), true, "Tenant_Application/ReadWrite/", "ResourceUnitLimitExceeded"}
	arr[1] = quotaCheck{&a.ru, aru, int64(cost), true, "Application/ReadWrite/", "ResourceUnitLimitExceeded"}
	checks := arr[:2]
	if write {
		arr[2] = quotaCheck{&q.wr, wr, 1, false, "Tenant_Application/Write/", "WriteLimitExceeded"}
		arr[3] = quotaCheck{&q.tenantWr, twr, 1, false, "Tenant/Write/", "WriteLimitExceeded"}
		arr[4] = quotaCheck{&a.wr, awr, 1, false, "Application/Write/", "WriteLimitExceeded"}
		checks = arr[:]
	}
	var blocked *quotaCheck
	for i := range checks {
		c := &checks[i]
		if c.lim.n == 0 {
			continue
		}
		c.w.evict(now, c.lim.win)
		if blocked == nil && c.w.used()+c.cost > c.lim.n {
			blocked = c
		}
	}
	if blocked != nil {
		// The refused request still costs resource units (bounded).
		for _, c := range checks {
			if c.ru && c.lim.n > 0 && c.w.used()+c.cost <= c.lim.n*18/10 {
				c.w.add(now, c.cost)
			}
		}
		var wait time.Duration
		for _, c := range checks {
			if c.lim.n > 0 {
				wait = max(wait, c.w.waitFor(now, c.lim.win, c.cost, c.lim.n))
			}
		}
		q.stats.Throttled++
		scope := blocked.scope + t.clientID + "/" + t.id
		return 0, &throttled{retryAfter: max(wait, time.Nanosecond), scope: scope, info: blocked.info}
	}
	for _, c := range checks {
		if c.lim.n > 0 {
			c.w.add(now, c.cost)
		}
	}
	if ru.n > 0 {
		ratio = float64(q.ru.used()) / float64(ru.n)
	}
	if write && wr.n > 0 {
		ratio = max(ratio, float64(q.wr.used())/float64(wr.n))
	}
	q.noteAdmitted(now, int64(cost), write)
	return ratio, nil
}

type quotaCheck struct {
	w           *slidingWindow
	lim         limit
	cost        int64
	ru          bool   // a resource-unit window (counts refused requests)
	scope, info string // scope prefix "<Scope>/<Limit>/", x-ms-throttle-information
}

// noteAdmitted updates the counters for an admitted request; q.mu held.
func (q *tenantQuota) noteAdmitted(now time.Duration, cost int64, write bool) {
	q.stats.ResourceUnits += cost
	if !write {
		q.stats.Reads++
		return
	}
	q.stats.Writes++
	sec := int((now - q.start) / time.Second)
	if sec < 0 {
		sec = 0
	}
	for len(q.timeline) <= sec {
		q.timeline = append(q.timeline, 0)
	}
	q.timeline[sec]++
}

// writeThrottled answers a 429 from the quotas or the CA limit.
func writeThrottled(w http.ResponseWriter, th *throttled, rid, crid string) {
	h := w.Header()
	if th.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(th.retryAfter.Seconds())))))
		h.Set("x-sim-retry-after-ms", strconv.FormatInt(int64(math.Ceil(float64(th.retryAfter)/float64(time.Millisecond))), 10))
	}
	if th.scope != "" {
		h.Set("x-ms-throttle-scope", th.scope)
	}
	if th.info != "" {
		h.Set("x-ms-throttle-information", th.info)
	}
	writeGraphError(w, http.StatusTooManyRequests, codeTooManyRequests, "Too many requests.", rid, crid)
}

// resourceUnits is the cost of a request to route op (see Quotas).
func (s *Server) resourceUnits(method, op string, hasSelect, hasExpand bool) int {
	if method != http.MethodGet {
		return 1
	}
	cost := 1
	if c, ok := s.ruCost[op]; ok {
		cost = c
	}
	if hasSelect {
		cost--
	}
	if hasExpand {
		cost++
	}
	return max(cost, 1)
}
