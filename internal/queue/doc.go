// Package queue is the one asynq task vocabulary shared by the API and the
// worker: task types, payloads, queue names and weights, and a Client that
// enqueues them.
//
// Two task types exist. A job's fan-out task ("remediation:fanout", TaskID
// "fanout:<job_id>", queue "control") pages through the job's items and
// enqueues one item task each ("remediation:item", TaskID
// "item:<job_id>:<seq>", queue "urgent" or "bulk" after the job's
// priority). Payloads carry ids only, never secrets or identities' data:
// everything else is read from the history store.
//
// TaskIDs make every enqueue idempotent: asynq refuses a second task with
// the same id while the first exists (ErrTaskIDConflict), and the Client
// treats that refusal as success.
package queue
