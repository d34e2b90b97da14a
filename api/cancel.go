package api

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// cancelRequest is the optional body of POST /v1/remediations/{id}/cancel:
// it takes no fields, so only an absent body or {} is accepted.
type cancelRequest struct{}

// handleRemediationCancel cancels a job: from the answer on no item of it
// starts, its pending and retrying items are canceled (a large job's in
// windows of seqs by its fan-out task, at tens of thousands of items per
// second), running items finish, and the job ends "canceled" when none is
// left open. It answers 200 with the job as stored. Canceling a
// finished job (completed or canceled) changes nothing and answers 200
// with the job as it is, so that a cancel can be sent again safely.
func (s *Server) handleRemediationCancel(c echo.Context) error {
	ctx := c.Request().Context()
	var req cancelRequest
	if err := decodeOptionalJSON(c, &req); err != nil {
		return err
	}
	j, err := s.getJob(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	j, err = s.cfg.Store.CancelJob(ctx, j.ID)
	if err != nil {
		if remediation.ErrorCode(err) == remediation.ENOTFOUND {
			return remediation.Errorf(remediation.ENOTFOUND, "Remediation %s does not exist.", c.Param("id"))
		}
		return fmt.Errorf("cancel job %s: %w", c.Param("id"), err)
	}
	if j.Status != remediation.JobCompleted && j.Status != remediation.JobCanceled &&
		j.Counts[remediation.ItemPending]+j.Counts[remediation.ItemRetrying] > 0 {
		// No item starts any more; the job's fan-out task cancels the
		// items of the windows CancelJob left (remediation.CancelWindow).
		s.startFanout(ctx, j.ID, j.Priority)
	}
	s.audit(c, auditJobCancel, j.TenantID, j.ID, map[string]any{"action": j.Action, "status": j.Status})
	return c.JSON(http.StatusOK, toJobResponse(j))
}
