package graphsim

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// graphResources are the resource identifiers a client-credentials scope
// may name ("<resource>/.default"); the simulator's own host is accepted
// too.
var graphResources = map[string]bool{
	"https://graph.microsoft.com":             true,
	graphAppID:                                true,
	"https://graph.microsoft.us":              true,
	"https://dod-graph.microsoft.us":          true,
	"https://microsoftgraph.chinacloudapi.cn": true,
}

// tokenEndpoint serves POST {tenant}/oauth2/v2.0/token for the
// client_credentials grant with a client secret or a certificate's client
// assertion (see checkClientAssertion).
func tokenEndpoint(c *loginCall) {
	raw, _ := readBody(c.r.Body)
	form, _ := url.ParseQuery(string(raw))
	c.logBody = redactForm(form)

	name := c.params["tenant"]
	t := c.s.Tenant(name)
	if t == nil {
		c.fail(tenantNotFound(name))
		return
	}
	for _, p := range []string{"grant_type", "client_id", "scope"} {
		if form.Get(p) == "" {
			c.fail(missingParam("'" + p + "'"))
			return
		}
	}
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		c.fail(&aadError{http.StatusBadRequest, "unsupported_grant_type", 70003,
			"The app requested an unsupported grant type '" + gt + "'."})
		return
	}
	clientID := form.Get("client_id")
	if !strings.EqualFold(clientID, t.clientID) {
		c.fail(&aadError{http.StatusBadRequest, "unauthorized_client", 700016, "Application with identifier '" + clientID +
			"' was not found in the directory '" + t.domain + "'. This can happen if the application has not been installed " +
			"by the administrator of the tenant or consented to by any user in the tenant. You may have sent your " +
			"authentication request to the wrong tenant."})
		return
	}
	secret, assertion := form.Get("client_secret"), form.Get("client_assertion")
	switch {
	case secret != "" && assertion != "":
		c.fail(&aadError{http.StatusBadRequest, "invalid_request", 0,
			"Only one of the parameters 'client_assertion' and 'client_secret' may be provided."})
		return
	case assertion != "":
		if e := c.checkClientAssertion(form, t, clientID); e != nil {
			c.fail(e)
			return
		}
	case secret == "":
		c.fail(&aadError{http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'."})
		return
	case subtle.ConstantTimeCompare([]byte(secret), []byte(t.secret)) != 1:
		c.fail(&aadError{http.StatusUnauthorized, "invalid_client", 7000215,
			"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, " +
				"not the client secret ID, for a secret added to app '" + t.clientID + "'."})
		return
	}
	if e := c.checkScope(form.Get("scope"), t); e != nil {
		c.fail(e)
		return
	}
	c.json(map[string]any{
		"token_type":     "Bearer",
		"expires_in":     int(tokenLifetime.Seconds()),
		"ext_expires_in": int(tokenLifetime.Seconds()),
		"access_token":   c.s.signToken(t, time.Now(), tokenLifetime),
	})
}

func missingParam(p string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_request", 900144,
		"The request body must contain the following parameter: " + p + "."}
}

// checkScope accepts exactly one "<graph resource>/.default" scope plus
// OpenID scopes (MSAL adds openid, offline_access and profile).
func (c *loginCall) checkScope(scope string, t *Tenant) *aadError {
	var resource string
	for _, sc := range strings.Fields(scope) {
		switch sc {
		case "openid", "offline_access", "profile", "email":
			continue
		}
		res, ok := strings.CutSuffix(sc, "/.default")
		if !ok {
			return &aadError{http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope " + sc +
				" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource " +
				"identifier (application ID URI)."}
		}
		if resource != "" {
			return &aadError{http.StatusBadRequest, "invalid_scope", 28000, "Provided value for the input parameter " +
				"scope is not valid because it contains more than one resource. Scope " + scope + " is not valid."}
		}
		resource = res
	}
	if resource == "" {
		return &aadError{http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope " + scope +
			" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource " +
			"identifier (application ID URI)."}
	}
	norm := strings.ToLower(strings.TrimRight(resource, "/"))
	if !graphResources[norm] && norm != strings.ToLower(c.base) && norm != strings.ToLower(c.s.URL()) {
		return &aadError{http.StatusBadRequest, "invalid_resource", 500011, "The resource principal named " + resource +
			" was not found in the tenant named " + t.domain + ". This can happen if the application has not been " +
			"installed by the administrator of the tenant or consented to by any user in the tenant. You might have " +
			"sent your authentication request to the wrong tenant."}
	}
	return nil
}

// redactForm re-encodes a token request form with secrets replaced.
func redactForm(form url.Values) []byte {
	red := url.Values{}
	for k, v := range form {
		switch k {
		case "client_secret", "client_assertion":
			red[k] = []string{"REDACTED"}
		default:
			red[k] = v
		}
	}
	return []byte(red.Encode())
}
