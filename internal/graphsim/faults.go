package graphsim

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// FaultSpec describes failures to inject into matching requests.
//
// Faults apply to Graph requests after the bearer token is accepted and the
// route is known, before the request body is examined. A fault applies to
// the token endpoint only when Operation names a login operation exactly
// ("POST /{tenant}/oauth2/v2.0/token").
type FaultSpec struct {
	TenantID string // "" = any tenant
	Method   string // "" = any method
	// Operation is a route pattern with or without its method, e.g.
	// "PATCH /users/{id}", "POST /users/{id}/revokeSignInSessions",
	// "GET /users/{id}"; "" = any Graph operation.
	Operation string
	UserID    string // object id or UPN of the {id} in the path; "" = any
	// Status is the HTTP status to answer; 0 with a Latency only delays.
	Status  int
	Code    string // Graph error code; default by status (e.g. TooManyRequests)
	Message string // default by status
	// RetryAfter sets the Retry-After header (whole seconds, rounded up);
	// 0 = no header.
	RetryAfter time.Duration
	// Times is how many matching requests get the fault; 0 = unlimited.
	Times int
	// Latency delays matching requests (added to Options.Latency).
	Latency time.Duration
	// ApplyThenFail performs the request (e.g. the write), then answers
	// Status (504 when Status is 0) instead of the real answer.
	ApplyThenFail bool
}

// fault is an injected FaultSpec and its remaining uses.
type fault struct {
	id        string
	spec      FaultSpec
	method    string // upper-case, "" = any
	pattern   string // "/users/{id}", "" = any
	remaining int    // -1 = unlimited
	hits      int
}

// faultSet holds the injected faults in injection order. Lock order:
// faultSet.mu before Tenant.mu.
type faultSet struct {
	mu   sync.Mutex
	list []*fault
	seq  int
}

// InjectFault adds a fault and returns its id.
func (s *Server) InjectFault(spec FaultSpec) string {
	f := &fault{spec: spec, method: strings.ToUpper(spec.Method), remaining: -1}
	if spec.Times > 0 {
		f.remaining = spec.Times
	}
	op := strings.TrimSpace(spec.Operation)
	if m, p, ok := strings.Cut(op, " "); ok && m == strings.ToUpper(m) && !strings.HasPrefix(m, "/") {
		if f.method == "" {
			f.method = m
		}
		op = strings.TrimSpace(p)
	}
	op = "/" + strings.Trim(op, "/")
	if prefix := "/" + graphVersion + "/"; len(op) > len(prefix) && strings.EqualFold(op[:len(prefix)], prefix) {
		op = op[len(prefix)-1:]
	}
	if op != "/" {
		f.pattern = "/" + strings.Join(canonicalCasts(strings.Split(strings.Trim(op, "/"), "/")), "/")
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.seq++
	f.id = "fault-" + strconv.Itoa(s.faults.seq)
	s.faults.list = append(s.faults.list, f)
	return f.id
}

// RemoveFault removes one fault.
func (s *Server) RemoveFault(id string) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	for i, f := range s.faults.list {
		if f.id == id {
			s.faults.list = append(s.faults.list[:i], s.faults.list[i+1:]...)
			return
		}
	}
}

// ClearFaults removes all faults.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	s.faults.list = nil
	s.faults.mu.Unlock()
}

// FaultHits returns how many requests the fault has been applied to.
func (s *Server) FaultHits(id string) int {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	for _, f := range s.faults.list {
		if f.id == id {
			return f.hits
		}
	}
	return 0
}

// take finds the first live fault matching the request, consumes one use
// and returns a copy. login reports a token-side request; userMatch reports
// whether a fault's UserID designates the request's {id}.
func (fs *faultSet) take(login bool, tenantID, method, pattern string, userMatch func(string) bool) *fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, f := range fs.list {
		switch {
		case f.remaining == 0:
			continue
		case login && f.pattern == "", f.pattern != "" && !strings.EqualFold(f.pattern, pattern):
			continue
		case f.method != "" && f.method != method:
			continue
		case f.spec.TenantID != "" && !strings.EqualFold(f.spec.TenantID, tenantID):
			continue
		case f.spec.UserID != "" && (userMatch == nil || !userMatch(f.spec.UserID)):
			continue
		}
		if f.remaining > 0 {
			f.remaining--
		}
		f.hits++
		c := *f
		return &c
	}
	return nil
}

// identifies reports whether uid (object id or UPN) designates the user
// addressed as ref in a request path.
func (t *Tenant) identifies(ref, uid string) bool {
	if ref == "" {
		return false
	}
	if strings.EqualFold(ref, uid) {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.lookupLocked(ref)
	return u != nil && (strings.EqualFold(u.id, uid) || strings.EqualFold(u.upn, uid))
}
