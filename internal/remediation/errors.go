package remediation

import (
	"errors"
	"fmt"
)

// Error codes. Append-only: portals branch on them.
const (
	EINVALID        = "invalid"         // 400: malformed input
	EUNAUTHORIZED   = "unauthorized"    // 401
	EFORBIDDEN      = "forbidden"       // 403
	ENOTFOUND       = "not_found"       // 404
	ECONFLICT       = "conflict"        // 409
	ETOOLARGE       = "too_large"       // 413
	EUNPROCESSABLE  = "unprocessable"   // 422: well-formed but not allowed
	ERATELIMITED    = "rate_limited"    // 429
	EINTERNAL       = "internal"        // 500
	ENOTIMPLEMENTED = "not_implemented" // 501
	EUNAVAILABLE    = "unavailable"     // 503
)

// Error is the application error: a code from the list above, a message
// safe to show to the caller, and optional details.
type Error struct {
	Code    string
	Message string
	Details any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, EINTERNAL for anything that is not an
// *Error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
