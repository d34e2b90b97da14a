package graphsim

import (
	"net/http"
	"sync"
	"time"
)

// Endpoints of a logged request.
const (
	EndpointGraph = "graph" // /v1.0/...
	EndpointLogin = "login" // token endpoint, OpenID configuration, discovery
)

// Request is one logged request.
type Request struct {
	Time     time.Time
	Endpoint string // EndpointGraph or EndpointLogin
	TenantID string // from the token (Graph) or the path (login); "" if unknown
	Method   string
	Path     string // unescaped URL path, e.g. /v1.0/users/{id}
	// Operation is the matched route, e.g. "PATCH /users/{id}"; "" if none.
	Operation string
	Query     string // raw query
	Status    int    // 0 if the client went away before an answer
	// Body is the request body after gunzip. Token requests have
	// client_secret and client_assertion redacted.
	Body            []byte
	RequestID       string
	ClientRequestID string
	ContentEncoding string
	FaultID         string // the injected fault applied, if any
	Duration        time.Duration
}

// requestLog is the bounded in-memory request log.
type requestLog struct {
	mu      sync.Mutex
	limit   int // < 0: disabled
	entries []Request
}

func (l *requestLog) add(r Request) {
	if l.limit < 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries) >= l.limit {
		keep := l.limit / 2
		n := copy(l.entries, l.entries[len(l.entries)-keep:])
		clear(l.entries[n:])
		l.entries = l.entries[:n]
	}
	l.entries = append(l.entries, r)
}

// Requests returns the logged requests, oldest first.
func (s *Server) Requests() []Request {
	s.reqlog.mu.Lock()
	defer s.reqlog.mu.Unlock()
	return append([]Request(nil), s.reqlog.entries...)
}

// Writes returns the logged Graph requests whose method is not GET.
func (s *Server) Writes() []Request {
	s.reqlog.mu.Lock()
	defer s.reqlog.mu.Unlock()
	var out []Request
	for _, r := range s.reqlog.entries {
		if r.Endpoint == EndpointGraph && r.Method != http.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

// ResetLog empties the request log.
func (s *Server) ResetLog() {
	s.reqlog.mu.Lock()
	s.reqlog.entries = nil
	s.reqlog.mu.Unlock()
}
