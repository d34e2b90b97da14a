package graphsim

import (
	"bytes"
	"net/http"
)

const organizationPath = "/organization"

func (s *Server) registerOrganizationRoutes(rt *router[graphHandler]) {
	rt.handle(http.MethodGet, organizationPath, listOrganization)
}

// organizationProps are the organization properties the simulator renders.
var organizationProps = newPropSet("microsoft.graph.organization", []*objProp[*Tenant]{
	{name: "id", def: true, get: func(t *Tenant) any { return t.id }},
	{name: "displayName", def: true, get: func(t *Tenant) any { return t.displayName }},
	{name: "tenantType", def: true, get: func(*Tenant) any { return "AAD" }},
	{name: "countryLetterCode", def: true, get: func(*Tenant) any { return "US" }},
	{name: "verifiedDomains", def: true, get: func(t *Tenant) any {
		return []map[string]any{{"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": true,
			"isInitial": true, "name": t.domain, "type": "Managed"}}
	}},
})

// listOrganization serves GET /organization[?$select=...]: the tenant's
// single organization object.
func listOrganization(c *call) *apiError {
	props, ctxSel, e := organizationProps.parseSelect(c.query.Get("$select"))
	if e != nil {
		return e
	}
	var buf bytes.Buffer
	organizationProps.writeObject(&buf, c.tenant, props, false)
	c.writeCollection("organization"+ctxSel, "", [][]byte{buf.Bytes()})
	return nil
}
