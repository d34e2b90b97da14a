package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// actionListResponse is the body of GET /v1/actions.
type actionListResponse struct {
	Actions []remediation.ActionSpec `json:"actions"`
}

// handleActionList returns the action catalog, with available set for the
// actions this build executes.
func (s *Server) handleActionList(c echo.Context) error {
	cat := remediation.Catalog()
	for i := range cat {
		cat[i].Available = s.available[cat[i].Name]
		if cat[i].Params == nil {
			cat[i].Params = []remediation.ParamSpec{}
		}
	}
	return c.JSON(http.StatusOK, actionListResponse{Actions: cat})
}
