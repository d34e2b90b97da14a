package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// dryRunInlineMax is the largest dry run whose items a job answer carries
// (and that a create request waits for): a portal's confirmation window
// gets the preview in one call.
const dryRunInlineMax = 100

// Poll intervals of awaitDryRun: the first check comes quickly (small
// previews finish in well under a second), then the interval doubles.
const (
	dryRunPollFirst = 20 * time.Millisecond
	dryRunPollMax   = 250 * time.Millisecond
)

// jobWithItemsResponse is a job with all its items: the 200 answer to a
// dry run that completed while the request waited.
type jobWithItemsResponse struct {
	jobResponse
	Items []itemResponse `json:"items"`
}

// finished reports whether a job has ended (completed or canceled).
func finished(j *remediation.Job) bool {
	return j.Status == remediation.JobCompleted || j.Status == remediation.JobCanceled
}

// awaitDryRun waits up to DryRunWait for a new dry-run job of at most
// dryRunInlineMax items to finish, polling the store. It returns the job as
// last read and whether it finished; a job that is no small dry run is
// returned at once. A store error ends the wait (logged): the caller then
// answers 202 as for any job.
func (s *Server) awaitDryRun(ctx context.Context, j *remediation.Job) (*remediation.Job, bool) {
	if !j.DryRun || j.Total > dryRunInlineMax || s.cfg.DryRunWait <= 0 {
		return j, finished(j)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DryRunWait)
	defer cancel()
	interval := dryRunPollFirst
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for !finished(j) {
		select {
		case <-ctx.Done():
			return j, false
		case <-timer.C:
		}
		latest, err := s.cfg.Store.GetJob(ctx, j.ID)
		if err != nil {
			if ctx.Err() == nil {
				s.log.WarnContext(ctx, "api: waiting for a dry run", slog.String("job_id", j.ID), slog.Any("err", err))
			}
			return j, false
		}
		j = latest
		interval = min(2*interval, dryRunPollMax)
		timer.Reset(interval)
	}
	return j, true
}

// withItems returns j with all its items when j is a finished dry run of at
// most dryRunInlineMax items; ok is false otherwise, or when the items
// cannot be read (logged).
func (s *Server) withItems(ctx context.Context, j *remediation.Job) (resp jobWithItemsResponse, ok bool) {
	if !j.DryRun || !finished(j) || j.Total > dryRunInlineMax {
		return resp, false
	}
	items, _, err := s.cfg.Store.ListItems(ctx, j.ID, remediation.ItemFilter{Limit: dryRunInlineMax})
	if err != nil {
		s.log.WarnContext(ctx, "api: read the items of a dry run", slog.String("job_id", j.ID), slog.Any("err", err))
		return resp, false
	}
	resp = jobWithItemsResponse{jobResponse: toJobResponse(j), Items: make([]itemResponse, 0, len(items))}
	for _, it := range items {
		resp.Items = append(resp.Items, toItemResponse(j.SeenItem(it)))
	}
	return resp, true
}
