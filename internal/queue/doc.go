// Package queue is the one asynq task vocabulary shared by the API and the
// worker: task types, payloads, queue names and weights, and a Client that
// enqueues them.
//
// Four task types exist. A job's fan-out task ("remediation:fanout", TaskID
// "fanout:<job_id>", queue "control") pages through the job's items and
// enqueues one item task each ("remediation:item", TaskID
// "item:<job_id>:<seq>", queue "urgent" or "bulk" after the job's
// priority). An item whose action changes a managed Conditional Access
// policy records a policy request and schedules a policy flush
// ("remediation:policy_flush", queue "control") of its tenant and policy
// kind, with a TaskID bucketed in time ("flush:<tenant>:<kind>:<bucket>")
// so that the requests of many items share one flush; the reconciler uses
// "flush:<tenant>:<kind>:recover". A webhook delivery recorded by the
// store's outbox is sent by a webhook task ("remediation:webhook", TaskID
// "webhook:<delivery_id>", queue "control"). Payloads carry ids only,
// never secrets or identities' data: everything else is read from the
// history store. Fan-out and item payloads may also carry the W3C
// traceparent of the span that enqueued them (the Client takes it from
// the enqueuing context), so that a job's trace crosses Redis.
//
// TaskIDs make every enqueue idempotent: asynq refuses a second task with
// the same id while the first exists (ErrTaskIDConflict), and the Client
// treats that refusal as success.
package queue
