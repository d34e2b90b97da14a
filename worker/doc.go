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
// second per tenant: CAPacer spaces the flusher's requests across every
// worker process. The reconciler restarts flushes of requests left
// pending.
//
// The history store is the system of record. asynq only carries ids; a
// task that runs again (duplicate, retry, crash recovery) re-reads the
// store and does nothing twice. The worker always makes an item terminal
// in the store before its task can be archived.
package worker
