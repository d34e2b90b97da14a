package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// codeMethodNotAllowed is the error code of a 405 answer. It is an HTTP
// routing outcome, not a domain error, so it lives here rather than in the
// domain vocabulary; like those codes it is a contract (append-only).
const codeMethodNotAllowed = "method_not_allowed"

// statusOf is THE table from error code to HTTP status. A code missing here
// is answered as an internal error.
var statusOf = map[string]int{
	remediation.EINVALID:        http.StatusBadRequest,
	remediation.EUNAUTHORIZED:   http.StatusUnauthorized,
	remediation.EFORBIDDEN:      http.StatusForbidden,
	remediation.ENOTFOUND:       http.StatusNotFound,
	codeMethodNotAllowed:        http.StatusMethodNotAllowed,
	remediation.ECONFLICT:       http.StatusConflict,
	remediation.ETOOLARGE:       http.StatusRequestEntityTooLarge,
	remediation.EUNPROCESSABLE:  http.StatusUnprocessableEntity,
	remediation.ERATELIMITED:    http.StatusTooManyRequests,
	remediation.EINTERNAL:       http.StatusInternalServerError,
	remediation.ENOTIMPLEMENTED: http.StatusNotImplemented,
	remediation.EUNAVAILABLE:    http.StatusServiceUnavailable,
}

// errorBody is the body of every error answer.
type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Details   any    `json:"details"`
	RequestID string `json:"request_id,omitempty"`
}

// internalMessage is all a caller learns about an internal error.
const internalMessage = "Internal error."

// handleError is echo's HTTPErrorHandler: it maps err to a status through
// statusOf and writes the error body. Internal errors are logged with their
// cause and shown only as "Internal error.".
func (s *Server) handleError(err error, c echo.Context) {
	appErr := toAppError(err)
	status, ok := statusOf[appErr.Code]
	if !ok {
		status, appErr = http.StatusInternalServerError, &remediation.Error{Code: remediation.EINTERNAL}
	}
	if appErr.Code == remediation.EINTERNAL {
		if !errors.Is(err, errPanic) {
			s.log.ErrorContext(c.Request().Context(), "api: internal error",
				slog.String("err", err.Error()),
				slog.String("method", c.Request().Method),
				slog.String("route", c.Path()),
				slog.String("request_id", requestIDOf(c)))
		}
		appErr = &remediation.Error{Code: remediation.EINTERNAL, Message: internalMessage}
	}
	if c.Response().Committed {
		return
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	body := errorBody{Error: errorPayload{
		Code:      appErr.Code,
		Message:   appErr.Message,
		Details:   appErr.Details,
		RequestID: requestIDOf(c),
	}}
	if werr := c.JSON(status, body); werr != nil {
		s.log.DebugContext(c.Request().Context(), "api: write error answer", slog.Any("err", werr))
	}
}

// toAppError converts err to a *remediation.Error: domain errors as they
// are, echo's routing errors and body-limit errors to their codes, anything
// else to EINTERNAL.
func toAppError(err error) *remediation.Error {
	var appErr *remediation.Error
	if errors.As(err, &appErr) {
		return appErr
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		var e *remediation.Error
		errors.As(tooLarge(mbe.Limit), &e)
		return e
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return remediation.Errorf(remediation.ENOTFOUND, "No such route.")
		case http.StatusMethodNotAllowed:
			return remediation.Errorf(codeMethodNotAllowed, "Method not allowed on this route.")
		case http.StatusRequestEntityTooLarge:
			return remediation.Errorf(remediation.ETOOLARGE, "The request body is too large.")
		case http.StatusBadRequest:
			return remediation.Errorf(remediation.EINVALID, "Bad request.")
		case http.StatusUnauthorized:
			return remediation.Errorf(remediation.EUNAUTHORIZED, "A valid API key is required.")
		}
	}
	return &remediation.Error{Code: remediation.EINTERNAL, Message: internalMessage}
}

// invalid returns an EINVALID error with details.
func invalid(details any, format string, args ...any) error {
	e := remediation.Errorf(remediation.EINVALID, format, args...)
	e.Details = details
	return e
}

// fieldError is one entry of the details of a validation error.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// fieldErrors collects validation errors of a request body.
type fieldErrors []fieldError

func (fe *fieldErrors) add(field, msg string) {
	*fe = append(*fe, fieldError{Field: field, Message: msg})
}

// err returns nil when nothing was collected, else one EINVALID error that
// lists every field.
func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	if len(fe) == 1 {
		return invalid(map[string]any{"fields": fe}, "Invalid %s: %s", fe[0].Field, fe[0].Message)
	}
	return invalid(map[string]any{"fields": fe}, "The request has %d invalid fields; see details.", len(fe))
}
