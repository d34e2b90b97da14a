package queue

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hibiken/asynq"
)

// Task types. Append-only: they are stored in Redis.
const (
	TypeFanout = "remediation:fanout"
	TypeItem   = "remediation:item"
)

// Queue names. Item tasks go to QueueUrgent or QueueBulk after the job's
// priority; fan-out tasks go to QueueUrgent for urgent jobs and to
// QueueControl otherwise, as do policy flushes and webhook deliveries.
const (
	QueueUrgent  = "urgent"
	QueueBulk    = "bulk"
	QueueControl = "control"
)

// Lanes returns the queues, most urgent first. A worker serves each with
// an asynq server of its own (worker.Config's concurrencies): urgent work
// (urgent jobs' fan-outs and items) and control work (fan-outs, policy
// flushes, webhooks: few and short) have task slots that bulk items can
// never fill, and a bulk task slot polls its one queue only.
func Lanes() []string {
	return []string{QueueUrgent, QueueControl, QueueBulk}
}

// FanoutQueue returns the queue of a fan-out task for a job priority.
func FanoutQueue(priority string) string {
	if priority == QueueUrgent {
		return QueueUrgent
	}
	return QueueControl
}

// ItemQueue returns the queue of an item task for a job priority
// ("urgent" or "bulk"); anything else is bulk.
func ItemQueue(priority string) string {
	if priority == QueueUrgent {
		return QueueUrgent
	}
	return QueueBulk
}

// FanoutPayload is the payload of a fan-out task.
type FanoutPayload struct {
	JobID    string `json:"job_id"`
	Priority string `json:"priority,omitempty"`
	// Trace is the W3C traceparent of the span that enqueued the task
	// (the API request), "" when none; never anything secret.
	Trace string `json:"traceparent,omitempty"`
}

// ItemPayload is the payload of an item task.
type ItemPayload struct {
	JobID string `json:"job_id"`
	Seq   int    `json:"seq"`
	// Trace is the W3C traceparent of the span that enqueued the task
	// (the fan-out task), "" when none.
	Trace string `json:"traceparent,omitempty"`
}

// FanoutTaskID returns the TaskID of a job's fan-out task.
func FanoutTaskID(jobID string) string { return "fanout:" + jobID }

// ItemTaskID returns the TaskID of one item task.
func ItemTaskID(jobID string, seq int) string { return "item:" + jobID + ":" + strconv.Itoa(seq) }

// NewFanoutTask returns the fan-out task of a job.
func NewFanoutTask(jobID, priority string) (*asynq.Task, error) {
	return newFanoutTask(FanoutPayload{JobID: jobID, Priority: priority})
}

// newFanoutTask returns the fan-out task of p.
func newFanoutTask(p FanoutPayload) (*asynq.Task, error) {
	if p.JobID == "" {
		return nil, fmt.Errorf("queue: fan-out task: empty job id")
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("queue: fan-out payload: %w", err)
	}
	return asynq.NewTask(TypeFanout, b), nil
}

// NewItemTask returns the task of one item of a job.
func NewItemTask(jobID string, seq int) (*asynq.Task, error) {
	return newItemTask(ItemPayload{JobID: jobID, Seq: seq})
}

// newItemTask returns the item task of p.
func newItemTask(p ItemPayload) (*asynq.Task, error) {
	if p.JobID == "" || p.Seq < 0 {
		return nil, fmt.Errorf("queue: item task: invalid job id %q or seq %d", p.JobID, p.Seq)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("queue: item payload: %w", err)
	}
	return asynq.NewTask(TypeItem, b), nil
}

// ParseFanout decodes a fan-out task's payload. A malformed payload can
// never succeed: the error wraps asynq.SkipRetry.
func ParseFanout(t *asynq.Task) (FanoutPayload, error) {
	var p FanoutPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.JobID == "" {
		return p, fmt.Errorf("queue: malformed %s payload: %v: %w", TypeFanout, err, asynq.SkipRetry)
	}
	return p, nil
}

// ParseItem decodes an item task's payload. A malformed payload can never
// succeed: the error wraps asynq.SkipRetry.
func ParseItem(t *asynq.Task) (ItemPayload, error) {
	var p ItemPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.JobID == "" || p.Seq < 0 {
		return p, fmt.Errorf("queue: malformed %s payload: %v: %w", TypeItem, err, asynq.SkipRetry)
	}
	return p, nil
}
