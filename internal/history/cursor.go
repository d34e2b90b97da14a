package history

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Cursors are opaque to callers: base64url of "kind|field|field". The kind
// ties a cursor to the listing that issued it.
const (
	cursorJobs    = "j"
	cursorItems   = "i"
	cursorHistory = "h"
	cursorAudit   = "a"
)

func encodeCursor(kind string, fields ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + "|" + strings.Join(fields, "|")))
}

// decodeCursor returns the n fields of a cursor of the given kind, or an
// EINVALID error.
func decodeCursor(kind, cursor string, n int) ([]string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, remediation.Errorf(remediation.EINVALID, "malformed cursor")
	}
	parts := strings.SplitN(string(b), "|", n+1)
	if len(parts) != n+1 || parts[0] != kind {
		return nil, remediation.Errorf(remediation.EINVALID, "malformed cursor")
	}
	return parts[1:], nil
}

// decodeIntCursor decodes a cursor holding one integer.
func decodeIntCursor(kind, cursor string) (int64, error) {
	f, err := decodeCursor(kind, cursor, 1)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, remediation.Errorf(remediation.EINVALID, "malformed cursor")
	}
	return v, nil
}
