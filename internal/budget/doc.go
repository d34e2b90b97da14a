// Package budget shares Microsoft Graph's throttling budgets of each tenant
// among every worker process, through Redis.
//
// Graph throttles per app and tenant: resource units per 10 s (3,500,
// 5,000 or 8,000 by tenant size), 3,000 writes per 150 s, 18,000 writes
// per 5 min per tenant across apps, and one Conditional Access request per
// second per tenant. A Gate holds one GCRA bucket per budget and tenant in
// Redis (redis_rate's algorithm and key format, so a redis_rate.Limiter
// with the same Limit sees the same state) and takes every bucket a call
// needs in one atomic script run: all of them or none.
//
// Waiting is a reservation: when a bucket is short, the script books the
// caller's turn at the earliest time every bucket allows and the caller
// sleeps once until then. Callers never poll. A wait longer than MaxWait is
// refused with a *WaitError so the caller can reschedule its task.
//
// Two lanes share each budget: Bulk work may use at most Options.BulkShare
// of every window budget (a second, smaller bucket) and must find the
// shared bucket free at the moment it runs, while Urgent work books the
// shared bucket directly, ahead of bulk. A one-identity job therefore never
// queues behind a 100,000-item job of the same tenant.
//
// A Graph 429 (or 503/504) pauses the tenant for every worker (Pause,
// Throttled); Throttled backs off exponentially, with jitter, when Graph
// sent no Retry-After, counting consecutive refusals in Redis until a call
// succeeds (Recovered). Wrap applies all this to a remediation.Directories.
// ScheduleSlots hands out start times for item tasks at the pace the budget
// allows, so a bulk fan-out does not make 100,000 tasks ready at once.
package budget
