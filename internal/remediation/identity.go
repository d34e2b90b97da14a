package remediation

import (
	"regexp"
	"strings"
)

var (
	guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// A UPN is local@domain; the local part may carry #EXT# for guests.
	upnRE = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+\-/=?^_{|}~.]{1,113}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)+$`)
)

// IsGUID reports whether s is a GUID in its canonical textual form.
func IsGUID(s string) bool { return guidRE.MatchString(s) }

// NormalizeIdentity validates an identity (object id or user principal
// name) and returns its canonical form: GUIDs and UPNs lower-cased, so that
// duplicates can be merged. It returns an EINVALID *Error otherwise.
func NormalizeIdentity(s string) (string, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return "", Errorf(EINVALID, "identity is empty")
	}
	if IsGUID(t) {
		return strings.ToLower(t), nil
	}
	if len(t) <= 256 && upnRE.MatchString(t) && !strings.Contains(t, "..") {
		return strings.ToLower(t), nil
	}
	return "", Errorf(EINVALID, "identity %q is neither an object id (GUID) nor a user principal name", truncate(t, 80))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
