package api

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Page sizes of list endpoints.
const (
	defaultLimit = 100
	maxLimit     = 1000
	maxCursor    = 1024
)

// query is the validated query string of a list request.
type query struct {
	values url.Values
}

// parseQuery refuses query parameters not in allowed and parameters given
// more than once.
func parseQuery(c echo.Context, allowed ...string) (*query, error) {
	values, err := url.ParseQuery(c.Request().URL.RawQuery)
	if err != nil {
		return nil, invalid(nil, "The query string is malformed.")
	}
	ok := make(map[string]bool, len(allowed))
	for _, a := range allowed {
		ok[a] = true
	}
	var unknown []string
	for k, vs := range values {
		if !ok[k] {
			unknown = append(unknown, truncate(k, 40))
			continue
		}
		if len(vs) > 1 {
			return nil, invalid(map[string]any{"parameter": k}, "Query parameter %q is given more than once.", k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, invalid(map[string]any{"unknown_parameters": unknown, "valid_parameters": allowed},
			"Unknown query parameter(s): %s.", strings.Join(unknown, ", "))
	}
	return &query{values: values}, nil
}

func (q *query) get(name string) string { return q.values.Get(name) }

func badParam(name, value, format string, args ...any) error {
	return invalid(map[string]any{"parameter": name, "value": truncate(value, 80)}, format, args...)
}

// tenantID returns the lower-cased GUID in name, or "".
func (q *query) tenantID(name string) (string, error) {
	v := q.get(name)
	if v == "" {
		return "", nil
	}
	if !remediation.IsGUID(v) {
		return "", badParam(name, v, "%s must be a GUID.", name)
	}
	return strings.ToLower(v), nil
}

// action returns the catalog action in name, or "".
func (q *query) action(name string) (remediation.Action, error) {
	v := q.get(name)
	if v == "" {
		return "", nil
	}
	spec, ok := remediation.LookupAction(v)
	if !ok {
		return "", badParam(name, v, "Unknown action %q.", truncate(v, 80))
	}
	return spec.Name, nil
}

// itemStatus returns the item status in name, or "". With terminalOnly,
// only final statuses are accepted.
func (q *query) itemStatus(name string, terminalOnly bool) (remediation.ItemStatus, error) {
	v := q.get(name)
	if v == "" {
		return "", nil
	}
	st := remediation.ItemStatus(v)
	if st.Valid() && (!terminalOnly || st.Terminal()) {
		return st, nil
	}
	var valid []remediation.ItemStatus
	for _, s := range remediation.ItemStatuses {
		if !terminalOnly || s.Terminal() {
			valid = append(valid, s)
		}
	}
	return "", invalid(map[string]any{"parameter": name, "value": truncate(v, 40), "valid": valid},
		"Invalid %s %q.", name, truncate(v, 40))
}

// identity returns the normalized identity in name, or "".
func (q *query) identity(name string) (string, error) {
	v := q.get(name)
	if v == "" {
		return "", nil
	}
	n, err := remediation.NormalizeIdentity(v)
	if err != nil {
		return "", badParam(name, v, "%s", remediation.ErrorMessage(err))
	}
	return n, nil
}

// time returns the RFC 3339 time in name, or the zero time.
func (q *query) time(name string) (time.Time, error) {
	v := q.get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badParam(name, v, "%s must be an RFC 3339 time, e.g. 2025-01-31T12:00:00Z.", name)
	}
	return t.UTC(), nil
}

// timeRange returns since and until (RFC 3339, either may be absent);
// until must not be before since.
func (q *query) timeRange() (since, until time.Time, err error) {
	if since, err = q.time("since"); err != nil {
		return since, until, err
	}
	if until, err = q.time("until"); err != nil {
		return since, until, err
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return since, until, invalid(map[string]any{"parameter": "until"}, "until must not be before since.")
	}
	return since, until, nil
}

// oneOf returns the value of name, "" or one of valid.
func (q *query) oneOf(name string, valid []string) (string, error) {
	v := q.get(name)
	if v == "" {
		return "", nil
	}
	for _, ok := range valid {
		if v == ok {
			return v, nil
		}
	}
	return "", invalid(map[string]any{"parameter": name, "value": truncate(v, 40), "valid": valid},
		"Invalid %s %q.", name, truncate(v, 40))
}

// token returns the value of name: "" or at most max printable ASCII
// characters.
func (q *query) token(name string, max int) (string, error) {
	v := q.get(name)
	if len(v) > max || !printableASCII(v) {
		return "", badParam(name, v, "%s must be at most %d printable ASCII characters.", name, max)
	}
	return v, nil
}

// limit returns the page size: default 100, 1..1000.
func (q *query) limit() (int, error) {
	v := q.get("limit")
	if v == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		return 0, badParam("limit", v, "limit must be an integer from 1 to %d.", maxLimit)
	}
	return n, nil
}

// cursor returns the opaque page cursor.
func (q *query) cursor() (string, error) {
	v := q.get("cursor")
	if len(v) > maxCursor || !printableASCII(v) {
		return "", badParam("cursor", v, "cursor is not one this server issued.")
	}
	return v, nil
}

// storeListError keeps a store's EINVALID (a cursor it cannot read) for the
// caller and wraps anything else as internal.
func storeListError(op string, err error) error {
	if remediation.ErrorCode(err) == remediation.EINVALID {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}
