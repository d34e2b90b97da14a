package api

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/entraremediator/remediator/internal/egress"
)

// resolveTimeout bounds the lookup of a webhook host.
const resolveTimeout = 5 * time.Second

// checkWebhookURL returns the webhook URL to store, or why raw is refused
// (a message for the "url" field): an absolute https URL (http only with
// AllowPrivateWebhooks) without credentials or fragment, whose host is not
// and does not resolve to an internal address (egress.WebhookAddrAllowed)
// unless AllowPrivateWebhooks. The delivery dialer checks the addresses
// again when it connects.
func (s *Server) checkWebhookURL(ctx context.Context, raw string) (string, string) {
	if raw == "" {
		return "", "is required"
	}
	if len(raw) > maxURL {
		return "", fmt.Sprintf("must be at most %d characters", maxURL)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "", "must be an absolute https URL"
	case u.Scheme != "https" && !(u.Scheme == "http" && s.cfg.AllowPrivateWebhooks):
		return "", "must use https"
	case u.User != nil:
		return "", "must not contain credentials"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", "must not contain a fragment"
	case hasControl(raw) || strings.ContainsAny(raw, " \\"):
		return "", "must not contain spaces, backslashes or control characters"
	}
	if port := u.Port(); port != "" {
		if n, ok := parsePort(port); !ok || n == 0 {
			return "", "has an invalid port"
		}
	}
	if s.cfg.AllowPrivateWebhooks {
		return u.String(), ""
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !egress.WebhookAddrAllowed(ip) {
			return "", "must not point to a loopback, private, link-local or other internal address"
		}
		return u.String(), ""
	}
	if !validHostname(host) {
		return "", "has an invalid host name"
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := s.cfg.LookupIP(ctx, host)
	if err != nil || len(addrs) == 0 {
		return "", "has a host name that does not resolve"
	}
	for _, a := range addrs {
		if !egress.WebhookAddrAllowed(a) {
			return "", "has a host name that resolves to a loopback, private, link-local or other internal address"
		}
	}
	return u.String(), ""
}

// parsePort parses a decimal port number.
func parsePort(p string) (int, bool) {
	if len(p) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= 65535
}

// validHostname reports whether h is a DNS name: labels of letters,
// digits and hyphens (and underscores, which some providers use), at most
// 253 characters, not ending in a bare number (which would be an IPv4
// address in another notation, e.g. 0x7f.1).
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	allDigits := true
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			allDigits = false
		}
	}
	return !allDigits && !strings.HasPrefix(strings.ToLower(last), "0x")
}
