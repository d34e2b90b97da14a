package remediation

import (
	"context"
	"time"
)

// CancelWindow is the width of the window of seqs one cancel transaction
// covers (Store.CancelJob, Store.CancelPending). Such a transaction holds
// its job's row lock, which every transition of the job's items (and any
// group commit that holds one) waits for: a window of a few thousand
// items keeps that wait to tens of milliseconds, where canceling 100,000
// items in one transaction takes seconds and stalls every worker's group
// commit meanwhile.
const CancelWindow = 2000

// CanceledDetail is the detail of an item canceled before it ran.
const CanceledDetail = "Canceled before it ran."

// Store is the history store, the system of record for tenants, jobs,
// items, their Graph call logs and the per-identity outcome history.
// Implemented by internal/history on PostgreSQL and SQLite.
//
// Methods return *Error values with ENOTFOUND / ECONFLICT where stated;
// anything else is an infrastructure error.
type Store interface {
	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
	Close() error

	// CreateTenant inserts t. ECONFLICT if the tenant id exists.
	CreateTenant(ctx context.Context, t *Tenant) error
	// UpdateTenant replaces the mutable fields of an existing tenant
	// (display name, client id, secret, cloud, endpoints). ENOTFOUND.
	UpdateTenant(ctx context.Context, t *Tenant) error
	// GetTenant returns one tenant. ENOTFOUND.
	GetTenant(ctx context.Context, id string) (*Tenant, error)
	// ListTenants returns all tenants ordered by id.
	ListTenants(ctx context.Context) ([]*Tenant, error)

	// CreateJob inserts job (ID, CreatedAt and all request fields set by the
	// caller; Status queued) and one pending item per identity, with seq
	// 0..len-1, in one transaction. Total is len(identities).
	// With a non-empty IdempotencyKey: if a job with the same tenant and key
	// exists and its RequestHash equals job.RequestHash, that job is returned
	// with created=false and nothing is written; a different hash → ECONFLICT.
	// Unknown tenant → ENOTFOUND.
	CreateJob(ctx context.Context, job *Job, identities []string) (stored *Job, created bool, err error)
	// GetJob returns a job with its Counts. ENOTFOUND. It must not count
	// over the job's items (counts are maintained incrementally).
	GetJob(ctx context.Context, id string) (*Job, error)
	// ListJobs returns jobs newest first and an opaque cursor for the next
	// page ("" when there is none). Stable under inserts.
	ListJobs(ctx context.Context, f JobFilter) ([]*Job, string, error)
	// ListItems returns a job's items in seq order, paged by cursor.
	ListItems(ctx context.Context, jobID string, f ItemFilter) ([]*Item, string, error)
	// GetItem returns one item by identity (as stored, normalized) and its
	// call log. ENOTFOUND.
	GetItem(ctx context.Context, jobID, identity string) (*Item, []Call, error)
	// GetItemBySeq returns one item by seq. ENOTFOUND.
	GetItemBySeq(ctx context.Context, jobID string, seq int) (*Item, error)
	// ItemsFrom returns up to limit items with seq >= from, in seq order
	// (used by the fan-out).
	ItemsFrom(ctx context.Context, jobID string, from, limit int) ([]*Item, error)
	// History returns terminal outcomes, newest first, paged by cursor.
	History(ctx context.Context, f HistoryFilter) ([]*Outcome, string, error)

	// AdvanceFanout records that items with seq < next were enqueued.
	// It never moves the cursor backwards.
	AdvanceFanout(ctx context.Context, jobID string, next int) error
	// JobsNeedingFanout returns ids of open jobs whose fan-out task has
	// work left, oldest first: a fan-out not finished and no cancel
	// requested, or a cancel requested and items not started yet (the
	// fan-out task cancels them with CancelPending).
	JobsNeedingFanout(ctx context.Context, limit int) ([]string, error)

	// TransitionItem applies tr if the item's current status is one of
	// tr.From (compare-and-set). It returns the updated item and whether
	// the transition happened. In the same transaction it keeps the job's
	// counts, sets the job running (and started_at) on the first item that
	// runs, records an Outcome when the item becomes terminal, and completes
	// the job (completed, or canceled if a cancel was requested; finished_at)
	// when no item is left non-terminal. ENOTFOUND for an unknown item.
	TransitionItem(ctx context.Context, tr Transition) (*Item, bool, error)
	// AppendCalls adds Graph calls to an item's attempt log.
	AppendCalls(ctx context.Context, jobID string, seq int, calls []Call) error

	// CancelJob requests a cancel: from its commit on no item of the job
	// starts (a start becomes a cancel), pending and retrying items become
	// canceled, running items finish; the job ends canceled when none is
	// left open. A large job's pending items are canceled a window of seqs
	// at a time: CancelJob does the first window, CancelPending the
	// others (the job's fan-out task calls it). ENOTFOUND. Canceling a
	// finished job is a no-op returning it.
	CancelJob(ctx context.Context, jobID string) (*Job, error)
	// CancelPending cancels the pending and retrying items of a job whose
	// cancel was requested in the window of seqs that starts at from (see
	// CancelJob) and returns the job; CancelWindow is the window's width.
	// A no-op for a job without a cancel request. ENOTFOUND.
	CancelPending(ctx context.Context, jobID string, from int) (*Job, error)

	// UpdateTenantSettings replaces a tenant's settings. ENOTFOUND.
	UpdateTenantSettings(ctx context.Context, tenantID string, s TenantSettings) (*Tenant, error)
	// SetPolicyRef stores the managed policy (and group) of a kind.
	SetPolicyRef(ctx context.Context, tenantID string, kind PolicyKind, ref PolicyRef) error

	// CreateDerivedJob creates job (UndoOf or RetryOf set to from) with one
	// pending item per item of job from whose status is in statuses, in
	// seq order, copying identity and object id, and (for undo) the
	// original's PriorState into UndoState. EUNPROCESSABLE when no item
	// qualifies. ENOTFOUND for an unknown job.
	CreateDerivedJob(ctx context.Context, job *Job, from string, statuses []ItemStatus) (*Job, error)

	// AddPolicyRequest records a policy request (idempotent on job+seq).
	AddPolicyRequest(ctx context.Context, r PolicyRequest) error
	// PendingPolicyRequests returns up to limit requests of a tenant and
	// kind, oldest first.
	PendingPolicyRequests(ctx context.Context, tenantID string, kind PolicyKind, limit int) ([]PolicyRequest, error)
	// DeletePolicyRequests removes handled requests.
	DeletePolicyRequests(ctx context.Context, reqs []PolicyRequest) error
	// PolicyRequestTenants lists (tenant, kind) pairs with pending
	// requests older than olderThan (for the reconciler).
	PolicyRequestTenants(ctx context.Context, olderThan time.Time) ([]PolicyRequest, error)
}
