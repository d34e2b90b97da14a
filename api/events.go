package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// GET /v1/remediations/{id}/events streams a job's progress as
// Server-Sent Events, so that a portal shows live progress without polling:
//
//	event: progress   the job (as GET /v1/remediations/{id}), first on
//	                  connect, then whenever it changes (counts, status)
//	event: item       an item (as in GET …/items) whose status, attempts or
//	                  updated_at changed; only for jobs of at most
//	                  eventsItemsMax items (counts are the contract)
//	event: done       the finished job (completed or canceled); the server
//	                  then closes the stream
//	: keep-alive      a comment every eventsKeepAlive
//
// The server polls the store (GetJob reads counters only) every
// eventsPoll and sends only changes. The stream also ends, without done,
// when the client goes away, after eventsMaxAge (an EventSource then
// reconnects, and is authenticated again), on server shutdown, or when the
// store fails; a client closes it itself on done.

// Timings and limits of event streams (variables for tests; read when a
// stream starts).
var (
	eventsPoll      = 500 * time.Millisecond
	eventsKeepAlive = 15 * time.Second
	eventsMaxAge    = 30 * time.Minute
	// eventsItemsMax is the largest job that gets item events: its items
	// are read in one page (at most the store's page cap) when counts change.
	eventsItemsMax = maxLimit
)

// eventsWriteTimeout bounds writing one event to a slow client.
const eventsWriteTimeout = 30 * time.Second

// Names of the events of a job stream.
const (
	eventProgress = "progress"
	eventItem     = "item"
	eventDone     = "done"
)

// itemMark is what a stream remembers of an item to tell that it changed.
type itemMark struct {
	status    remediation.ItemStatus
	attempts  int
	updatedAt time.Time
}

// eventStream is one client's stream of a job's events.
type eventStream struct {
	s     *Server
	w     *echo.Response
	rc    *http.ResponseController
	jobID string
	last  []byte           // JSON of the last progress event
	items map[int]itemMark // by seq; nil: no item events for this job
	limit int              // page size of the item reads
}

// handleRemediationEvents streams a job's events (see above). A job the
// caller may not see is 404, as for GET /v1/remediations/{id}.
func (s *Server) handleRemediationEvents(c echo.Context) error {
	ctx := c.Request().Context()
	j, err := s.getJob(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	poll, keepAlive, maxAge, itemsMax := eventsPoll, eventsKeepAlive, eventsMaxAge, eventsItemsMax
	es := &eventStream{s: s, w: c.Response(), rc: http.NewResponseController(c.Response()), jobID: j.ID, limit: itemsMax}
	if j.Total <= itemsMax && !finished(j) {
		// The items as they are now are a baseline, not sent. The job is
		// read again after them, so that a change in between shows in its
		// counts and the next change is looked for in the items.
		if err := es.baseline(ctx); err != nil {
			return err
		}
		if j, err = s.getJob(ctx, j.ID); err != nil {
			return err
		}
	}

	h := es.w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set(echo.HeaderCacheControl, "no-cache")
	h.Set("X-Accel-Buffering", "no") // reverse proxies: do not buffer
	es.w.WriteHeader(http.StatusOK)
	// The server's WriteTimeout would cut a long stream: each event gets
	// its own write deadline instead (write).
	if err := es.progress(j); err != nil {
		return es.end(ctx, "send", err)
	}
	if finished(j) {
		return es.end(ctx, "send", es.send(eventDone, toJobResponse(j)))
	}

	tick, beat, expire := time.NewTicker(poll), time.NewTicker(keepAlive), time.NewTimer(maxAge)
	defer tick.Stop()
	defer beat.Stop()
	defer expire.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.streamsDone:
			return nil
		case <-expire.C:
			return nil
		case <-beat.C:
			if err := es.write([]byte(": keep-alive\n\n")); err != nil {
				return es.end(ctx, "send", err)
			}
		case <-tick.C:
			latest, err := s.cfg.Store.GetJob(ctx, j.ID)
			if err != nil {
				return es.end(ctx, "read job", err)
			}
			done, err := es.update(ctx, latest)
			if err != nil || done {
				return es.end(ctx, "update", err)
			}
		}
	}
}

// update sends what changed since the last tick: the items that changed
// (when the job changed), then the job, then done when it has finished.
func (es *eventStream) update(ctx context.Context, j *remediation.Job) (done bool, err error) {
	b, err := json.Marshal(toJobResponse(j))
	if err != nil {
		return false, fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	if bytes.Equal(b, es.last) {
		return false, nil
	}
	if es.items != nil {
		if err := es.changedItems(ctx, j); err != nil {
			return false, err
		}
	}
	if err := es.event(eventProgress, b); err != nil {
		return false, err
	}
	es.last = b
	if !finished(j) {
		return false, nil
	}
	return true, es.event(eventDone, b)
}

// baseline records the job's items as they are, without sending them.
func (es *eventStream) baseline(ctx context.Context) error {
	items, _, err := es.s.cfg.Store.ListItems(ctx, es.jobID, remediation.ItemFilter{Limit: es.limit})
	if err != nil {
		return fmt.Errorf("list items of job %s: %w", es.jobID, err)
	}
	es.items = make(map[int]itemMark, len(items))
	for _, it := range items {
		es.items[it.Seq] = markOf(it)
	}
	return nil
}

// changedItems sends the items whose status, attempts or update time
// differ from what the stream last saw, in seq order, as readers of j see
// them (remediation.Job.SeenItem; a job with item events is small enough
// for its cancel to rewrite every row at once).
func (es *eventStream) changedItems(ctx context.Context, j *remediation.Job) error {
	items, _, err := es.s.cfg.Store.ListItems(ctx, es.jobID, remediation.ItemFilter{Limit: es.limit})
	if err != nil {
		return fmt.Errorf("list items of job %s: %w", es.jobID, err)
	}
	for _, it := range items {
		it = j.SeenItem(it)
		m := markOf(it)
		if prev, ok := es.items[it.Seq]; ok && prev.equal(m) {
			continue
		}
		es.items[it.Seq] = m
		if err := es.send(eventItem, toItemResponse(it)); err != nil {
			return err
		}
	}
	return nil
}

func markOf(it *remediation.Item) itemMark {
	return itemMark{status: it.Status, attempts: it.Attempts, updatedAt: it.UpdatedAt}
}

func (m itemMark) equal(o itemMark) bool {
	return m.status == o.status && m.attempts == o.attempts && m.updatedAt.Equal(o.updatedAt)
}

// progress sends the job as a progress event and remembers it.
func (es *eventStream) progress(j *remediation.Job) error {
	b, err := json.Marshal(toJobResponse(j))
	if err != nil {
		return fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	es.last = b
	return es.event(eventProgress, b)
}

// send encodes v as the data of one event.
func (es *eventStream) send(event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", event, err)
	}
	return es.event(event, b)
}

// event writes one event whose data is the JSON data (one line: JSON
// escapes line breaks in strings).
func (es *eventStream) event(name string, data []byte) error {
	msg := make([]byte, 0, len(name)+len(data)+16)
	msg = append(append(append(msg, "event: "...), name...), "\ndata: "...)
	msg = append(append(msg, data...), "\n\n"...)
	return es.write(msg)
}

// errStreamWrite marks a failed write to the client (gone or too slow).
var errStreamWrite = errors.New("write event")

// write sends msg and flushes it, within eventsWriteTimeout.
func (es *eventStream) write(msg []byte) error {
	err := es.rc.SetWriteDeadline(time.Now().Add(eventsWriteTimeout))
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("%w: set deadline: %w", errStreamWrite, err)
	}
	if _, err := es.w.Write(msg); err != nil {
		return fmt.Errorf("%w: %w", errStreamWrite, err)
	}
	if err := es.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("%w: flush: %w", errStreamWrite, err)
	}
	return nil
}

// end ends the stream after the error err of op (nil: a normal end). The
// answer has started, so err is logged rather than returned: at debug
// level for a client that went away, as a warning otherwise.
func (es *eventStream) end(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
	case ctx.Err() != nil || errors.Is(err, errStreamWrite):
		es.s.log.DebugContext(ctx, "api: event stream ended", slog.String("job_id", es.jobID), slog.Any("err", err))
	default:
		es.s.log.WarnContext(ctx, "api: event stream ended", slog.String("job_id", es.jobID), slog.String("op", op),
			slog.Any("err", err))
	}
	return nil
}
