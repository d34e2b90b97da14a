package remediation

import (
	"encoding/json"
	"time"
)

// ItemStatus is the status of one identity in a job. Append-only contract.
type ItemStatus string

const (
	ItemPending   ItemStatus = "pending"
	ItemRunning   ItemStatus = "running"
	ItemRetrying  ItemStatus = "retrying"
	ItemSucceeded ItemStatus = "succeeded"
	ItemSkipped   ItemStatus = "skipped"
	ItemFailed    ItemStatus = "failed"
	ItemCanceled  ItemStatus = "canceled"
)

// ItemStatuses lists every item status, in display order.
var ItemStatuses = []ItemStatus{ItemPending, ItemRunning, ItemRetrying, ItemSucceeded, ItemSkipped, ItemFailed, ItemCanceled}

// Terminal reports whether s is final.
func (s ItemStatus) Terminal() bool {
	switch s {
	case ItemSucceeded, ItemSkipped, ItemFailed, ItemCanceled:
		return true
	}
	return false
}

// Valid reports whether s is a known status.
func (s ItemStatus) Valid() bool {
	for _, v := range ItemStatuses {
		if v == s {
			return true
		}
	}
	return false
}

// ItemError is the error of a failed (or retrying) item.
type ItemError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Item is one identity of a job.
type Item struct {
	JobID          string          `json:"job_id"`
	Seq            int             `json:"-"`
	TenantID       string          `json:"tenant_id"`
	Action         Action          `json:"action"`
	Identity       string          `json:"identity"`
	ObjectID       string          `json:"object_id,omitempty"`
	Status         ItemStatus      `json:"status"`
	Detail         string          `json:"detail"`
	Error          *ItemError      `json:"error"`
	Attempts       int             `json:"attempts"`
	GraphRequestID string          `json:"graph_request_id"`
	PriorState     json.RawMessage `json:"prior_state,omitempty"`
	// UndoState is, in an undo job, the original item's PriorState: what
	// the undo restores.
	UndoState json.RawMessage `json:"undo_state,omitempty"`
	Results   json.RawMessage `json:"results,omitempty"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// ItemFilter selects items of one job, in seq order.
type ItemFilter struct {
	Status ItemStatus
	// Statuses, when not empty, selects the items in any of these
	// statuses (with Status, if set, among them).
	Statuses []ItemStatus
	Limit    int
	Cursor   string
}

// Call is one Graph call made for an item (its attempt log).
type Call struct {
	Time       time.Time     `json:"time"`
	Attempt    int           `json:"attempt"`
	Operation  string        `json:"operation"`
	HTTPStatus int           `json:"http_status"`
	ErrorCode  string        `json:"error_code,omitempty"`
	RequestID  string        `json:"request_id,omitempty"`
	Duration   time.Duration `json:"-"`
	DurationMS float64       `json:"duration_ms"`
}

// Outcome is one terminal per-identity result in the history (GET /v1/history).
type Outcome struct {
	ID             int64      `json:"id"`
	JobID          string     `json:"job_id"`
	TenantID       string     `json:"tenant_id"`
	Action         Action     `json:"action"`
	Identity       string     `json:"identity"`
	Status         ItemStatus `json:"status"`
	Detail         string     `json:"detail"`
	Error          *ItemError `json:"error"`
	Attempts       int        `json:"attempts"`
	GraphRequestID string     `json:"graph_request_id"`
	Reason         string     `json:"reason"`
	Actor          string     `json:"actor"`
	RequestedBy    string     `json:"requested_by"`
	At             time.Time  `json:"at"`
}

// HistoryFilter selects outcomes, newest first.
type HistoryFilter struct {
	TenantID string
	// TenantIDs, when not empty, limits to outcomes of these tenants.
	TenantIDs []string
	Identity  string
	Action    Action
	Status    ItemStatus
	Since     time.Time
	Until     time.Time
	Limit     int
	Cursor    string
}

// Transition moves one item from one of From to To. Fields left zero are
// not changed (Error nil clears nothing; set ClearError to clear it).
type Transition struct {
	JobID          string
	Seq            int
	From           []ItemStatus
	To             ItemStatus
	Detail         string
	Error          *ItemError
	ClearError     bool
	GraphRequestID string
	ObjectID       string
	PriorState     json.RawMessage
	Results        json.RawMessage
	// CountAttempt increments the item's attempt counter.
	CountAttempt bool
	// Calls are appended to the item's attempt log when the transition
	// applies (in the same transaction); a call without an Attempt gets
	// the item's attempt count.
	Calls []Call
	// Urgent is a hint: the item belongs to a small job whose latency
	// matters (the urgent lane). The store applies it apart from bulk
	// writes, so that it does not wait behind a bulk job's row lock.
	Urgent bool
}
