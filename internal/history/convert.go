package history

import (
	"database/sql"
	"encoding/json"
	"strconv"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// micros is how times are stored: unix microseconds, which both databases
// compare and sort as integers.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// nullMicros stores a zero or nil time as NULL.
func nullMicros(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return micros(*t)
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// jsonArg stores an absent (nil or empty) document as NULL.
func jsonArg(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return string(m)
}

func jsonValue(v sql.NullString) json.RawMessage {
	if !v.Valid {
		return nil
	}
	return json.RawMessage(v.String)
}

// nullString stores "" as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func itemError(code, msg sql.NullString) *remediation.ItemError {
	if !code.Valid && !msg.Valid {
		return nil
	}
	return &remediation.ItemError{Code: code.String, Message: msg.String}
}

// args collects query arguments and hands out their $n placeholders.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// clampLimit applies the page size rules: default 100, at most 1000.
func clampLimit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}

// countColumn is the jobs counter column of an item status.
func countColumn(s remediation.ItemStatus) (string, bool) {
	switch s {
	case remediation.ItemPending:
		return "n_pending", true
	case remediation.ItemRunning:
		return "n_running", true
	case remediation.ItemRetrying:
		return "n_retrying", true
	case remediation.ItemSucceeded:
		return "n_succeeded", true
	case remediation.ItemSkipped:
		return "n_skipped", true
	case remediation.ItemFailed:
		return "n_failed", true
	case remediation.ItemCanceled:
		return "n_canceled", true
	}
	return "", false
}
