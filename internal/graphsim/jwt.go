package graphsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Audiences Graph accepts in an access token.
const (
	graphAudience   = "https://graph.microsoft.com"
	graphAppID      = "00000003-0000-0000-c000-000000000000"
	tokenLifetime   = 3599 * time.Second
	jwtHeaderBase64 = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiIsImtpZCI6ImdyYXBoc2ltLTEifQ" // {"typ":"JWT","alg":"HS256","kid":"graphsim-1"}
)

// tokenClaims are the claims of an app-only Entra v1.0 access token.
type tokenClaims struct {
	Aud            string   `json:"aud"`
	Iss            string   `json:"iss"`
	Iat            int64    `json:"iat"`
	Nbf            int64    `json:"nbf"`
	Exp            int64    `json:"exp"`
	AppDisplayName string   `json:"app_displayname,omitempty"`
	AppID          string   `json:"appid"`
	AppIDAcr       string   `json:"appidacr"`
	Idp            string   `json:"idp"`
	IdTyp          string   `json:"idtyp"`
	Oid            string   `json:"oid"`
	Roles          []string `json:"roles,omitempty"`
	Sub            string   `json:"sub"`
	Tid            string   `json:"tid"`
	Uti            string   `json:"uti"`
	Ver            string   `json:"ver"`
}

// errTokenExpired distinguishes an expired (or not yet valid) token.
var errTokenExpired = errors.New("token expired or not yet valid")

// IssueToken returns an access token for the tenant's app, valid for ttl
// from now (a negative ttl gives an expired token), with the app's current
// permissions in its roles claim. Tests use it to call
// Graph without the token endpoint.
func (s *Server) IssueToken(tenantID string, ttl time.Duration) (string, error) {
	t := s.Tenant(tenantID)
	if t == nil {
		return "", fmt.Errorf("graphsim: unknown tenant %q", tenantID)
	}
	return s.signToken(t, time.Now(), ttl), nil
}

func (s *Server) signToken(t *Tenant, now time.Time, ttl time.Duration) string {
	spID := uuid.NewSHA1(uuid.NameSpaceOID, []byte("sp/"+t.id+"/"+t.clientID)).String()
	c := tokenClaims{
		Aud:            graphAudience,
		Iss:            "https://sts.windows.net/" + t.id + "/",
		Iat:            now.Unix(),
		Nbf:            now.Add(-5 * time.Minute).Unix(),
		Exp:            now.Add(ttl).Unix(),
		AppDisplayName: "Entra Remediator",
		AppID:          t.clientID,
		AppIDAcr:       "1",
		Idp:            "https://sts.windows.net/" + t.id + "/",
		IdTyp:          "app",
		Oid:            spID,
		Roles:          t.Permissions(),
		Sub:            spID,
		Tid:            t.id,
		Uti:            strings.ReplaceAll(uuid.NewString(), "-", "")[:22],
		Ver:            "1.0",
	}
	payload, _ := json.Marshal(c)
	signing := jwtHeaderBase64 + "." + base64.RawURLEncoding.EncodeToString(payload)
	return signing + "." + base64.RawURLEncoding.EncodeToString(s.mac(signing))
}

func (s *Server) mac(signing string) []byte {
	m := hmac.New(sha256.New, s.signKey)
	m.Write([]byte(signing))
	return m.Sum(nil)
}

// verifyToken checks signature, lifetime and audience and returns the
// claims. It returns errTokenExpired for a token outside its lifetime.
func (s *Server) verifyToken(tok string, now time.Time) (*tokenClaims, error) {
	if v, ok := s.verified.Load(tok); ok {
		c := *v.(*tokenClaims)
		return checkLifetime(&c, now)
	}
	c, err := s.verifySignedToken(tok)
	if err != nil {
		return nil, err
	}
	if s.verifiedSize.Add(1) > maxVerifiedTokens {
		s.verified.Clear()
		s.verifiedSize.Store(1)
	}
	v := *c
	s.verified.Store(tok, &v)
	return checkLifetime(c, now)
}

// maxVerifiedTokens bounds the cache of verified tokens.
const maxVerifiedTokens = 10_000

// checkLifetime returns c, with errTokenExpired when now is outside its
// lifetime.
func checkLifetime(c *tokenClaims, now time.Time) (*tokenClaims, error) {
	if n := now.Unix(); n >= c.Exp || n < c.Nbf {
		return c, errTokenExpired
	}
	return c, nil
}

// verifySignedToken checks a token's signature and audience and returns
// its claims.
func (s *Server) verifySignedToken(tok string) (*tokenClaims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWS compact serialization")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, s.mac(parts[0]+"."+parts[1])) {
		return nil, errors.New("bad signature")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	var c tokenClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	if c.Aud != graphAudience && c.Aud != graphAppID {
		return nil, errors.New("invalid audience")
	}
	return &c, nil
}
