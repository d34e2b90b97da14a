// Package worker is the asynq server of Entra Remediator: it runs the
// fan-out of jobs into item tasks, executes each item through the
// registered remediation executors, classifies Graph errors into final
// failures and retries, records every status change in the history store,
// and reconciles jobs whose fan-out was never enqueued.
//
// Actions that change a tenant's managed Conditional Access policy
// (enforce_mfa, enforce_phishing_resistant_mfa) do not write it per item:
// the executor records a policy request (Exec.RequestPolicy) and returns a
// Deferred result, and the item stays running. A policy flush task per
// tenant and policy kind, scheduled in time buckets so that many items
// share it, takes a Redis lock for the (tenant, kind), hands the pending
// requests to the PolicyFlusher in batches and records each outcome as
// its item's terminal status. Conditional Access allows one request per
// second per tenant: a metered directory (below) takes the tenant's CA
// budget on every such request; CAPacer spaces the flusher's requests of
// a directory that is not metered. The reconciler restarts flushes of
// requests left pending.
//
// Graph budgets: with Config.Gate, Directories are metered by
// internal/budget (budget.Wrap) and the worker runs bulk jobs at each
// tenant's Graph quota. Items of urgent jobs call Graph in the urgent
// lane, ahead of bulk work. The fan-out of a bulk job schedules its item
// tasks (ProcessAt) on the tenant's bulk schedule at the pace the budget
// allows for the job's action, so each task becomes ready about when its
// budget exists and waits at most once. A call the budget refuses (a
// *budget.WaitError, beyond the gate's MaxWait) reschedules the task
// after the wait, for a bulk item no earlier than a new slot of the
// schedule, without counting a retry; a bulk item of a tenant paused
// after a Graph 429 gives its worker back before it starts. A Graph 429
// pauses the whole tenant (in the wrapper) and counts as a retry of the
// item it answered, which, like a bounced bulk item, comes back on a new
// slot of the schedule rather than with every other one when the pause
// ends.
//
// Webhooks: the history store records a pending delivery per subscribed
// webhook in the transaction that finishes a job or fails an item (an
// outbox). A sweep hands the due deliveries to the queue, and a webhook
// task POSTs each, signed with HMAC-SHA256, through a dialer that refuses
// internal addresses; failures retry with backoff until the retries are
// spent, and every attempt is recorded in the delivery log.
//
// The history store is the system of record. asynq only carries ids; a
// task that runs again (duplicate, retry, crash recovery) re-reads the
// store and does nothing twice. The worker always makes an item terminal
// in the store before its task can be archived.
//
// Tracing and logs (tracing.go): every task runs in a consumer span
// "task <type>" continuing the traceparent of its payload (the API
// request for a fan-out, the fan-out for an item), and its context
// carries task_id, task_type, job_id and seq for the log records.
package worker
