package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// The bootstrap key (Config.APIKey) is an admin for all tenants.
const (
	bootstrapKeyID = "bootstrap"
	bootstrapName  = "bootstrap"
)

// Stored API keys: "rk_" followed by 64 hex digits (32 random bytes).
const (
	keySecretPrefix = "rk_"
	keySecretLen    = len(keySecretPrefix) + 64
	keyPrefixLen    = 10 // characters of the secret kept to recognise a key
)

// touchInterval is how often a key's last use is recorded at most.
const (
	touchInterval = time.Minute
	touchTimeout  = 2 * time.Second
)

type principalKey struct{}

// WithPrincipal returns a context carrying the caller of a request.
func WithPrincipal(ctx context.Context, p remediation.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller of the request of ctx, set by the
// authentication middleware.
func PrincipalFrom(ctx context.Context) (remediation.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(remediation.Principal)
	return p, ok
}

// principalOf returns the caller of c; a request without one (which the
// middleware never lets through) is a caller without rights or tenants.
func principalOf(c echo.Context) remediation.Principal {
	if p, ok := PrincipalFrom(c.Request().Context()); ok {
		return p
	}
	return remediation.Principal{Tenants: []string{""}}
}

// requestedByOf is how the caller is recorded on jobs: "api-key:bootstrap"
// for the bootstrap key, "api-key:<name> (<key id>)" for stored keys (names
// need not be unique).
func requestedByOf(p remediation.Principal) string {
	if p.KeyID == bootstrapKeyID {
		return p.Label()
	}
	return p.Label() + " (" + p.KeyID + ")"
}

// hashSecret is how a key secret is stored and looked up.
func hashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// looksLikeKeySecret reports whether s has the form of a stored key's
// secret; other tokens are refused without a store lookup.
func looksLikeKeySecret(s string) bool {
	if len(s) != keySecretLen || !strings.HasPrefix(s, keySecretPrefix) {
		return false
	}
	_, err := hex.DecodeString(s[len(keySecretPrefix):])
	return err == nil
}

// unauthorized is the answer to a missing, unknown or revoked key; it never
// says which.
func unauthorized(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="remediator"`)
	return remediation.Errorf(remediation.EUNAUTHORIZED, "A valid API key is required: Authorization: Bearer <key>.")
}

// authenticate resolves the bearer token to a Principal and puts it in
// the request context. The bootstrap key is compared in constant time
// (both sides hashed first, so that its length does not leak either);
// stored keys are found by the SHA-256 of their secret. Every request
// needs it but the probes and /openapi.yaml, unknown routes included.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	bootstrap := sha256.Sum256([]byte(s.cfg.APIKey))
	return func(c echo.Context) error {
		if p := c.Request().URL.Path; p == pathHealthz || p == pathReadyz || p == pathOpenAPI ||
			(p == pathMetrics && s.cfg.MetricsHandler != nil) {
			return next(c)
		}
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		const scheme = "Bearer "
		if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
			return unauthorized(c)
		}
		token := strings.TrimSpace(h[len(scheme):])
		got := sha256.Sum256([]byte(token))
		var p remediation.Principal
		switch {
		case s.cfg.APIKey != "" && subtle.ConstantTimeCompare(got[:], bootstrap[:]) == 1:
			p = remediation.Principal{KeyID: bootstrapKeyID, Name: bootstrapName, Role: remediation.RoleAdmin}
		case s.access != nil && looksLikeKeySecret(token):
			k, err := s.access.APIKeyByHash(c.Request().Context(), got[:])
			switch {
			case remediation.ErrorCode(err) == remediation.ENOTFOUND:
				return unauthorized(c)
			case err != nil:
				return fmt.Errorf("look up api key: %w", err)
			case k.RevokedAt != nil || !k.Role.Valid():
				return unauthorized(c)
			}
			s.touchKey(c.Request().Context(), k)
			p = remediation.Principal{KeyID: k.ID, Name: k.Name, Role: k.Role, Tenants: k.Tenants}
		default:
			return unauthorized(c)
		}
		c.SetRequest(c.Request().WithContext(WithPrincipal(c.Request().Context(), p)))
		return next(c)
	}
}

// touchThrottle remembers when each key's use was last recorded.
type touchThrottle struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// due reports whether a use of key id at now should be recorded, and if
// so notes it as recorded.
func (t *touchThrottle) due(id string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.last[id]; ok && now.Sub(last) < touchInterval {
		return false
	}
	if t.last == nil {
		t.last = map[string]time.Time{}
	}
	t.last[id] = now
	return true
}

// touchKey records a use of k at most once per touchInterval (per process,
// and not when the stored last use is that recent, e.g. from another API
// replica). A failure is logged, never the request's.
func (s *Server) touchKey(ctx context.Context, k *remediation.APIKey) {
	now := s.cfg.Now().UTC()
	if k.LastUsedAt != nil && now.Sub(*k.LastUsedAt) < touchInterval && !k.LastUsedAt.After(now) {
		return
	}
	if !s.touched.due(k.ID, now) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), touchTimeout)
	defer cancel()
	if err := s.access.TouchAPIKey(ctx, k.ID, now); err != nil {
		s.log.WarnContext(ctx, "api: record api key use", slog.String("key_id", k.ID), slog.Any("err", err))
	}
}
