package graphsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
)

// loginHandler serves one login (Entra) route.
type loginHandler func(c *loginCall)

// loginCall is one request to the login side.
type loginCall struct {
	s       *Server
	w       http.ResponseWriter
	r       *http.Request
	params  map[string]string
	base    string // "https://host" as the client addressed us
	traceID string
	corrID  string
	logBody []byte
}

func (s *Server) registerLoginRoutes() {
	s.login.handle(http.MethodGet, "/{tenant}/v2.0/.well-known/openid-configuration", openIDConfiguration)
	s.login.handle(http.MethodGet, "/{tenant}/discovery/instance", instanceDiscovery)
	s.login.handle(http.MethodGet, "/{tenant}/discovery/v2.0/keys", jwks)
	s.login.handle(http.MethodPost, "/{tenant}/oauth2/v2.0/token", tokenEndpoint)
}

var versionSegment = regexp.MustCompile(`^(?i:beta|v\d+(\.\d+)?)$`)

// serveLogin serves the Entra side: everything outside /v1.0.
func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request, segs []string) {
	start := time.Now()
	traceID := uuid.NewString()
	corrID := r.Header.Get("client-request-id")
	if corrID == "" {
		corrID = uuid.NewString()
	}
	h := w.Header()
	h.Set("x-ms-request-id", traceID)
	h.Set("client-request-id", corrID)
	h.Set("x-ms-ests-server", "2.1.19000.3 - WEULR1 ProdSlices")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	h.Set("X-Content-Type-Options", "nosniff")
	sw := &statusWriter{ResponseWriter: w}
	rec := Request{
		Time: start, Endpoint: EndpointLogin, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		RequestID: traceID, ClientRequestID: corrID, ContentEncoding: r.Header.Get("Content-Encoding"),
	}
	defer func() {
		rec.Status = sw.status
		rec.Duration = time.Since(start)
		s.record(r.Context(), rec)
	}()

	m := s.login.match(r.Method, segs)
	if m.route == nil {
		switch {
		case len(segs) > 0 && versionSegment.MatchString(segs[0]):
			writeGraphError(sw, http.StatusBadRequest, codeBadRequest, "Invalid version: "+segs[0], traceID, corrID)
		case m.methodNotAllowed && len(segs) == 4 && strings.EqualFold(segs[3], "token"):
			s.writeAAD(sw, &aadError{http.StatusBadRequest, "invalid_request", 900561,
				"The endpoint only accepts POST, OPTIONS requests. Received a " + r.Method + " request."}, traceID, corrID)
		case m.methodNotAllowed:
			http.Error(sw, "Method Not Allowed", http.StatusMethodNotAllowed)
		default:
			http.NotFound(sw, r)
		}
		return
	}
	rec.Operation = m.route.op
	rec.TenantID = strings.ToLower(m.params["tenant"])
	if t := s.Tenant(m.params["tenant"]); t != nil {
		rec.TenantID = t.id
	}
	if f := s.faults.take(true, rec.TenantID, r.Method, m.route.pattern, nil); f != nil {
		rec.FaultID = f.id
		if !sleep(r.Context(), f.spec.Latency) {
			return
		}
		if f.spec.Status != 0 {
			s.writeLoginFault(sw, f, traceID, corrID)
			return
		}
	}
	c := &loginCall{s: s, w: sw, r: r, params: m.params, base: "https://" + r.Host, traceID: traceID, corrID: corrID}
	m.route.h(c)
	rec.Body = c.logBody
}

func (s *Server) writeLoginFault(w http.ResponseWriter, f *fault, traceID, corrID string) {
	e := &aadError{status: f.spec.Status, err: f.spec.Code, statement: f.spec.Message}
	if e.err == "" {
		e.err = "invalid_request"
		if e.status == http.StatusTooManyRequests || e.status >= 500 {
			e.err = "temporarily_unavailable"
		}
	}
	if e.statement == "" {
		e.statement = http.StatusText(e.status) + "."
	}
	if f.spec.RetryAfter > 0 {
		w.Header().Set("Retry-After", itoaCeilSeconds(f.spec.RetryAfter))
	}
	s.writeAAD(w, e, traceID, corrID)
}

func (s *Server) writeAAD(w http.ResponseWriter, e *aadError, traceID, corrID string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.status)
	_, _ = w.Write(aadErrorJSON(e, traceID, corrID))
}

func (c *loginCall) json(v any) {
	b, _ := json.Marshal(v)
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(b)
}

func (c *loginCall) fail(e *aadError) { c.s.writeAAD(c.w, e, c.traceID, c.corrID) }

func tenantNotFound(name string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_tenant", 90002, "Tenant '" + name +
		"' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. " +
		"Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."}
}

// openIDConfiguration serves {tenant}/v2.0/.well-known/openid-configuration,
// which azidentity fetches with DisableInstanceDiscovery.
func openIDConfiguration(c *loginCall) {
	name := c.params["tenant"]
	tid := "{tenantid}"
	switch strings.ToLower(name) {
	case "common", "organizations":
	default:
		t := c.s.Tenant(name)
		if t == nil {
			c.fail(tenantNotFound(name))
			return
		}
		tid = t.id
	}
	path := name
	if tid != "{tenantid}" {
		path = tid
	}
	b := c.base + "/" + path
	c.json(map[string]any{
		"token_endpoint":                        b + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              b + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                c.base + "/" + tid + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     "https://graph.microsoft.com/oidc/userinfo",
		"authorization_endpoint":                b + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         b + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  b + "/oauth2/v2.0/logout",
		"claims_supported": []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
			"at_hash", "c_hash", "email"},
		"kerberos_endpoint":     b + "/kerberos",
		"tenant_region_scope":   "EU",
		"cloud_instance_name":   "microsoftonline.com",
		"cloud_graph_host_name": "graph.windows.net",
		"msgraph_host":          "graph.microsoft.com",
		"rbac_url":              "https://pas.windows.net",
	})
}

// instanceDiscovery serves {tenant}/discovery/instance (MSAL's instance
// discovery, used when DisableInstanceDiscovery is false and the authority
// is not a known cloud).
func instanceDiscovery(c *loginCall) {
	tenant := c.params["tenant"]
	if ae, err := url.Parse(c.r.URL.Query().Get("authorization_endpoint")); err == nil {
		if first, _, _ := strings.Cut(strings.TrimPrefix(ae.Path, "/"), "/"); first != "" {
			tenant = first
		}
	}
	host := c.r.Host
	c.json(map[string]any{
		"tenant_discovery_endpoint": c.base + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host, "preferred_cache": host, "aliases": []string{host},
		}},
	})
}

// jwks serves {tenant}/discovery/v2.0/keys. Access tokens are HS256-signed
// with a server secret, so no public key is published.
func jwks(c *loginCall) {
	c.json(map[string]any{"keys": []any{}})
}
