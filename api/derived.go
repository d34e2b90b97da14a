package api

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// undoRequest is the optional body of POST /v1/remediations/{id}/undo.
type undoRequest struct {
	Reason string `json:"reason"`
	DryRun bool   `json:"dry_run"`
}

// retryRequest is the optional body of POST /v1/remediations/{id}/retry.
type retryRequest struct {
	Reason string `json:"reason"`
}

// handleRemediationUndo creates a job that reverts the succeeded items of a
// finished job (UndoOf), from the state each item saved before it changed
// anything. Refused: an undo job (422), a dry run (422), an action that
// cannot be undone (422), a job still queued or running (409), a job
// without succeeded items (422). Headers and answers as for a new
// remediation (Idempotency-Key, X-Actor; 202, 200 on a replay).
func (s *Server) handleRemediationUndo(c echo.Context) error {
	key, actor, err := remediationHeaders(c.Request().Header)
	if err != nil {
		return err
	}
	var req undoRequest
	if err := decodeOptionalJSON(c, &req); err != nil {
		return err
	}
	src, err := s.getJob(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	reason, err := derivedReason(req.Reason, "undo of "+src.ID)
	if err != nil {
		return err
	}
	switch spec, _ := remediation.LookupAction(string(src.Action)); {
	case src.UndoOf != "":
		return unprocessable(src, "Remediation %s is itself an undo (of %s): undo of an undo is refused; "+
			"submit the action again instead.", src.ID, src.UndoOf)
	case src.DryRun:
		return unprocessable(src, "Remediation %s is a dry run: it changed nothing, so there is nothing to undo.", src.ID)
	case !spec.Undoable && src.Action == remediation.ActionRevokeSessions:
		return unprocessable(src, "Remediation %s revoked sessions: revoked sessions cannot be undone "+
			"(the user signs in again to get new ones).", src.ID)
	case !spec.Undoable:
		return unprocessable(src, "Action %s cannot be undone.", src.Action)
	}
	if _, err := s.checkAction(string(src.Action)); err != nil {
		return err
	}
	if err := requireFinished(src, "undone"); err != nil {
		return err
	}
	hash, err := hashRequest(requestFingerprint{Op: "undo", Of: src.ID, Action: src.Action, Reason: reason, DryRun: req.DryRun})
	if err != nil {
		return err
	}
	// Per-target actions can change some targets of an item that failed on
	// another (one group removed, a dynamic one refused): undo those too.
	// Their undo reads the saved prior state and skips items without one.
	statuses, n := []remediation.ItemStatus{remediation.ItemSucceeded}, src.Counts[remediation.ItemSucceeded]
	if src.Action == remediation.ActionRemoveGroupMemberships || src.Action == remediation.ActionRemoveRoleAssignments {
		statuses, n = append(statuses, remediation.ItemFailed), n+src.Counts[remediation.ItemFailed]
	}
	job := s.derivedJob(c, src, reason, actor, key, hash, n)
	job.UndoOf, job.DryRun = src.ID, req.DryRun
	return s.createDerived(c, job, src, statuses, "nothing to undo")
}

// handleRemediationRetry creates a job (RetryOf) that tries the failed
// items of a finished job again, with the same action, parameters,
// confirmation and dry-run mode; a retry of an undo job is an undo too
// (UndoOf kept). Refused: a job still queued or running (409), a job
// without failed items (422).
func (s *Server) handleRemediationRetry(c echo.Context) error {
	key, actor, err := remediationHeaders(c.Request().Header)
	if err != nil {
		return err
	}
	var req retryRequest
	if err := decodeOptionalJSON(c, &req); err != nil {
		return err
	}
	src, err := s.getJob(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	reason, err := derivedReason(req.Reason, "retry of "+src.ID)
	if err != nil {
		return err
	}
	if _, err := s.checkAction(string(src.Action)); err != nil {
		return err
	}
	if err := requireFinished(src, "retried"); err != nil {
		return err
	}
	hash, err := hashRequest(requestFingerprint{Op: "retry", Of: src.ID, Action: src.Action, Reason: reason, DryRun: src.DryRun})
	if err != nil {
		return err
	}
	job := s.derivedJob(c, src, reason, actor, key, hash, src.Counts[remediation.ItemFailed])
	job.RetryOf, job.UndoOf, job.DryRun = src.ID, src.UndoOf, src.DryRun
	job.ConfirmAdminTargets = src.ConfirmAdminTargets
	return s.createDerived(c, job, src, []remediation.ItemStatus{remediation.ItemFailed}, "nothing to retry")
}

// derivedJob returns the job to create from src, for n items.
func (s *Server) derivedJob(c echo.Context, src *remediation.Job, reason, actor, key, hash string, n int) *remediation.Job {
	priority := priorityBulk
	if n <= urgentMaxItems {
		priority = priorityUrgent
	}
	return &remediation.Job{
		ID:             s.cfg.NewID(),
		TenantID:       src.TenantID,
		Action:         src.Action,
		Status:         remediation.JobQueued,
		Reason:         reason,
		RequestedBy:    requestedByOf(principalOf(c)),
		Actor:          actor,
		Context:        src.Context,
		Params:         src.Params,
		Priority:       priority,
		IdempotencyKey: key,
		RequestHash:    hash,
		CreatedAt:      s.cfg.Now().UTC(),
	}
}

// createDerived stores job with one item per item of src in status st,
// then answers as for a new remediation. Nothing is stored when no item
// qualifies (422, nothing is the reason).
func (s *Server) createDerived(c echo.Context, job *remediation.Job, src *remediation.Job, sts []remediation.ItemStatus, nothing string) error {
	st := sts[0]
	stored, err := s.cfg.Store.CreateDerivedJob(c.Request().Context(), job, src.ID, sts)
	switch remediation.ErrorCode(err) {
	case "":
	case remediation.EUNPROCESSABLE:
		return unprocessable(src, "Remediation %s has no %s item: %s.", src.ID, st, nothing)
	case remediation.ECONFLICT:
		return keyConflict(job.IdempotencyKey)
	case remediation.ENOTFOUND:
		return remediation.Errorf(remediation.ENOTFOUND, "Remediation %s does not exist, or its tenant is no longer registered.", src.ID)
	default:
		return fmt.Errorf("create job %s from job %s: %w", job.ID, src.ID, err)
	}
	// A replayed Idempotency-Key returns the job stored first.
	created := stored.ID == job.ID
	if created {
		action := auditJobRetry
		if job.RetryOf == "" {
			action = auditJobUndo
		}
		s.audit(c, action, stored.TenantID, stored.ID, map[string]any{
			"of": src.ID, "action": stored.Action, "items": stored.Total, "dry_run": stored.DryRun, "reason": stored.Reason,
		})
	}
	return s.respondJobCreated(c, stored, created)
}

// derivedReason returns the trimmed reason, or def when it is blank.
func derivedReason(reason, def string) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return def, nil
	case utf8.RuneCountInString(reason) > maxReason:
		return "", invalid(map[string]any{"field": "reason", "max_length": maxReason},
			"The reason must be at most %d characters.", maxReason)
	}
	return reason, nil
}

// requireFinished refuses (409) a job that is still queued or running.
func requireFinished(j *remediation.Job, what string) error {
	if finished(j) {
		return nil
	}
	return &remediation.Error{
		Code:    remediation.ECONFLICT,
		Message: fmt.Sprintf("Remediation %s is %s; it can be %s once it has finished.", j.ID, j.Status, what),
		Details: map[string]any{"id": j.ID, "status": j.Status},
	}
}

// unprocessable is a 422 answer about job j.
func unprocessable(j *remediation.Job, format string, args ...any) error {
	e := remediation.Errorf(remediation.EUNPROCESSABLE, format, args...)
	e.Details = map[string]any{"id": j.ID, "action": j.Action}
	return e
}
