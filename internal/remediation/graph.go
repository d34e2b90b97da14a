package remediation

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// User is the part of a Graph user the actions read.
type User struct {
	ID                    string
	UserPrincipalName     string
	UserType              string // "Member" or "Guest"
	AccountEnabled        bool
	OnPremisesSyncEnabled bool
}

// IsGuest reports whether u is an external (guest) user.
func (u *User) IsGuest() bool {
	return u.UserType == "Guest"
}

// Directory is the Microsoft Graph surface the actions use, for one tenant.
// Implemented by internal/graph with msgraph-sdk-go. Every method returns a
// *GraphError for an answer from Graph that is not a success, and a
// *GraphError with Status 0 and Code "network_error" / "timeout" when no
// answer came.
type Directory interface {
	// GetUser reads id, userPrincipalName, userType, accountEnabled and
	// onPremisesSyncEnabled ($select). id is an object id or a UPN.
	GetUser(ctx context.Context, id string) (*User, error)
	// SetAccountEnabled PATCHes accountEnabled.
	SetAccountEnabled(ctx context.Context, id string, enabled bool) error
	// RevokeSignInSessions POSTs revokeSignInSessions.
	RevokeSignInSessions(ctx context.Context, id string) error
}

// Directories gives the Directory of a tenant (one cached credential and
// client per tenant).
type Directories interface {
	For(ctx context.Context, t *Tenant) (Directory, error)
}

// GraphError is a failed Graph call.
type GraphError struct {
	Operation  string
	Status     int    // HTTP status, 0 when no answer came
	Code       string // Graph error code, e.g. Request_ResourceNotFound
	Message    string
	RequestID  string
	RetryAfter time.Duration // from Retry-After, 0 if absent
}

func (e *GraphError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("graph %s: %s: %s", e.Operation, e.Code, e.Message)
	}
	return fmt.Sprintf("graph %s: HTTP %d %s: %s (request-id %s)", e.Operation, e.Status, e.Code, e.Message, e.RequestID)
}

// Retryable reports whether the call may succeed if tried again later:
// throttling, 5xx gateway/availability errors, time-outs and network errors.
func (e *GraphError) Retryable() bool {
	switch {
	case e.Status == 0:
		return true
	case e.Status == 429, e.Status == 500, e.Status == 502, e.Status == 503, e.Status == 504:
		return true
	}
	return false
}

// Throttled reports whether Graph throttled the call.
func (e *GraphError) Throttled() bool { return e.Status == 429 }

// CallLog collects the Graph calls made while handling one item. The Graph
// client appends to the log found in the context.
type CallLog struct {
	mu    sync.Mutex
	calls []Call
}

// Add appends c.
func (l *CallLog) Add(c Call) {
	l.mu.Lock()
	l.calls = append(l.calls, c)
	l.mu.Unlock()
}

// Calls returns a copy of the collected calls.
func (l *CallLog) Calls() []Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Call(nil), l.calls...)
}

type callLogKey struct{}

// WithCallLog returns a context whose Graph calls are recorded in l.
func WithCallLog(ctx context.Context, l *CallLog) context.Context {
	return context.WithValue(ctx, callLogKey{}, l)
}

// CallLogFrom returns the call log of ctx, or nil.
func CallLogFrom(ctx context.Context) *CallLog {
	l, _ := ctx.Value(callLogKey{}).(*CallLog)
	return l
}
