package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// ctxKeyRequestID is the echo.Context key of the request id.
const ctxKeyRequestID = "api.request_id"

// requestID takes a well-formed X-Request-Id from the caller or makes one,
// and echoes it in the response.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !validRequestID(id) {
			id = uuid.NewString()
		}
		c.Set(ctxKeyRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '.' || r == ':'
		if !ok {
			return false
		}
	}
	return true
}

func requestIDOf(c echo.Context) string {
	id, _ := c.Get(ctxKeyRequestID).(string)
	return id
}

// accessLog writes one debug line per request. It renders a handler error
// itself so that the logged status is the one sent.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		ctx := c.Request().Context()
		if s.cfg.Metrics != nil {
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			s.cfg.Metrics.ObserveHTTP(route, c.Request().Method, c.Response().Status, time.Since(start))
		}
		if s.log.Enabled(ctx, slog.LevelDebug) {
			s.log.LogAttrs(ctx, slog.LevelDebug, "api: request",
				slog.String("method", c.Request().Method),
				slog.String("path", c.Request().URL.Path),
				slog.String("route", c.Path()),
				slog.Int("status", c.Response().Status),
				slog.Int64("bytes", c.Response().Size),
				slog.Duration("duration", time.Since(start)),
				slog.String("request_id", requestIDOf(c)))
		}
		return nil
	}
}

// errPanic is returned for a recovered panic, which is already logged.
var errPanic = errors.New("api: handler panicked")

// recoverPanic turns a handler panic into a logged 500 answer.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.ErrorContext(c.Request().Context(), "api: handler panicked",
				slog.String("panic", fmt.Sprint(r)),
				slog.String("route", c.Path()),
				slog.String("request_id", requestIDOf(c)),
				slog.String("stack", string(debug.Stack())))
			err = errPanic
		}()
		return next(c)
	}
}

// Paths of the probes and of the API description, the only routes without
// authentication.
const (
	pathHealthz = "/healthz"
	pathReadyz  = "/readyz"
	pathMetrics = "/metrics"
	pathOpenAPI = "/openapi.yaml"
)

// limitBody refuses bodies over MaxBodyBytes: at once when Content-Length
// says so, while reading otherwise (see decodeJSON).
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > s.cfg.MaxBodyBytes {
			return tooLarge(s.cfg.MaxBodyBytes)
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(c.Response(), r.Body, s.cfg.MaxBodyBytes)
		}
		return next(c)
	}
}

func tooLarge(limit int64) error {
	return &remediation.Error{
		Code:    remediation.ETOOLARGE,
		Message: fmt.Sprintf("The request body exceeds %d bytes.", limit),
		Details: map[string]any{"max_body_bytes": limit},
	}
}
