// Package worker is the asynq server of Entra Remediator: it runs the
// fan-out of jobs into item tasks, executes each item through the
// registered remediation executors, classifies Graph errors into final
// failures and retries, records every status change in the history store,
// and reconciles jobs whose fan-out was never enqueued.
//
// The history store is the system of record. asynq only carries ids; a
// task that runs again (duplicate, retry, crash recovery) re-reads the
// store and does nothing twice. The worker always makes an item terminal
// in the store before its task can be archived.
package worker
