package remediation

import (
	"context"
	"encoding/json"
)

// Result is what an executor decided for one item. Status is one of
// succeeded, skipped or failed. A failed Result is a permanent, explained
// refusal (e.g. a protected identity); Graph errors are returned as errors
// instead and classified by the worker.
type Result struct {
	Status     ItemStatus
	Detail     string
	Error      *ItemError
	ObjectID   string
	PriorState json.RawMessage
	Results    json.RawMessage
	// Deferred means the item stays running: a PolicyRequest was queued and
	// the policy flush will finish the item.
	Deferred bool
}

// Exec is everything an executor gets for one item.
type Exec struct {
	Dir    Directory
	Tenant *Tenant
	Job    *Job
	// Item as stored when the attempt started; Item.PriorState holds what
	// an earlier (crashed or retried) attempt saved with SavePriorState.
	Item *Item
	// SavePriorState durably records the state an executor is about to
	// change, before it writes to Graph, so that a crash after the write
	// still leaves what undo needs. Required before every write.
	SavePriorState func(ctx context.Context, prior json.RawMessage) error
	// RequestPolicy queues a batched policy change for this item (and
	// makes sure a flush will run). The executor then returns a Deferred
	// Result.
	RequestPolicy func(ctx context.Context, r PolicyRequest) error
	// Shared, when set, runs read once for a key of this tenant and
	// shares its result for a few seconds with the other items the
	// process runs (concurrent callers wait for the one read). Dry runs
	// use it for the reads every item repeats and Graph meters tightly
	// (the tenant's Conditional Access policy: 1 request/s). The result
	// is shared: never modify it. Nil: read is called.
	Shared func(ctx context.Context, key string, read func(context.Context) (any, error)) (any, error)
}

// DryRun reports whether the job only previews (reads only, no writes).
func (x *Exec) DryRun() bool { return x.Job.DryRun }

// Undo reports whether the job reverts an earlier job.
func (x *Exec) Undo() bool { return x.Job.UndoOf != "" }

// Executor runs one action for one item. Implementations live one per file
// in internal/actions. Execute must be idempotent: it may run again after a
// crash or a retry, and must then not change anything twice.
type Executor interface {
	Action() Action
	Execute(ctx context.Context, x *Exec) (Result, error)
}

// Dispatcher starts the background work of a job (the fan-out of one task
// per identity). Implemented by internal/queue on asynq.
type Dispatcher interface {
	// StartFanout enqueues the job's fan-out task. Calling it again for the
	// same job is harmless.
	StartFanout(ctx context.Context, jobID string, priority string) error
	// Ping checks that the queue (Redis) is reachable.
	Ping(ctx context.Context) error
}
