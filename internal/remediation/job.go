package remediation

import (
	"encoding/json"
	"time"
)

// JobStatus is the status of a job. Append-only contract.
type JobStatus string

const (
	JobQueued    JobStatus = "queued"
	JobRunning   JobStatus = "running"
	JobCompleted JobStatus = "completed"
	JobCanceled  JobStatus = "canceled"
)

// Job is one remediation request for one tenant: one action over a list of
// identities. Its items carry the per-identity outcome.
type Job struct {
	ID          string             `json:"id"`
	TenantID    string             `json:"tenant_id"`
	Action      Action             `json:"action"`
	Status      JobStatus          `json:"status"`
	Total       int                `json:"total"`
	Duplicates  int                `json:"duplicates_merged"`
	Counts      map[ItemStatus]int `json:"counts"`
	Reason      string             `json:"reason"`
	RequestedBy string             `json:"requested_by"`
	Actor       string             `json:"actor"`
	Context     json.RawMessage    `json:"context,omitempty"`
	Params      json.RawMessage    `json:"parameters,omitempty"`
	DryRun      bool               `json:"dry_run"`
	// ConfirmAdminTargets lets disable_user / enforce_mfa /
	// enforce_phishing_resistant_mfa act on users holding privileged roles.
	ConfirmAdminTargets bool `json:"confirm_admin_targets"`
	// UndoOf is the job this job reverts; RetryOf the job whose failed
	// items it tries again. Empty otherwise.
	UndoOf  string `json:"undo_of,omitempty"`
	RetryOf string `json:"retry_of,omitempty"`
	// Priority is "urgent" for small jobs, "bulk" otherwise (set at submit).
	Priority string `json:"priority"`

	IdempotencyKey string `json:"-"`
	RequestHash    string `json:"-"`
	// FanoutNext is the seq of the next item the fan-out has to enqueue;
	// the fan-out is done when FanoutNext == Total.
	FanoutNext int `json:"-"`
	// CancelRequested is set by a cancel; running items finish, others are canceled.
	CancelRequested bool `json:"-"`

	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// JobFilter selects jobs for ListJobs. Results are newest first.
type JobFilter struct {
	TenantID string
	// TenantIDs, when not empty, limits to jobs of these tenants (scoped keys).
	TenantIDs []string
	Action    Action
	Status    JobStatus
	Limit     int
	Cursor    string
}
