package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// readyTimeout bounds each dependency check of /readyz.
const readyTimeout = 2 * time.Second

// Check results shown by /readyz.
const (
	checkOK     = "ok"
	checkFailed = "failed"
)

// readyResponse is the body of a successful /readyz.
type readyResponse struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// handleHealthz reports that the process serves HTTP.
func (s *Server) handleHealthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz pings the store and the queue concurrently, each with a short
// timeout. A failure is 503 naming the failed dependency; its error is
// logged, not shown.
func (s *Server) handleReadyz(c echo.Context) error {
	ctx := c.Request().Context()
	checks := map[string]func(context.Context) error{
		"store":      s.cfg.Store.Ping,
		"dispatcher": s.cfg.Dispatcher.Ping,
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	results := make(map[string]string, len(checks))
	var failed []string
	for name, ping := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, readyTimeout)
			defer cancel()
			err := ping(cctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				results[name] = checkFailed
				failed = append(failed, name)
				s.log.WarnContext(ctx, "api: readiness check failed", slog.String("check", name), slog.Any("err", err))
				return
			}
			results[name] = checkOK
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		msg := "Not ready: the store or the dispatcher is unreachable."
		if len(failed) == 1 {
			msg = "Not ready: the " + failed[0] + " is unreachable."
		}
		return &remediation.Error{
			Code:    remediation.EUNAVAILABLE,
			Message: msg,
			Details: map[string]any{"status": "unavailable", "checks": results},
		}
	}
	return c.JSON(http.StatusOK, readyResponse{Status: "ok", Checks: results})
}
