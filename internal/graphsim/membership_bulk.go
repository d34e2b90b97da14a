package graphsim

import (
	"encoding/json"
	"net/http"
	"strings"
)

// maxMembersPerRequest is the most references Graph accepts in one
// members@odata.bind ("you can add up to only 20 members").
const maxMembersPerRequest = 20

// patchGroup serves PATCH /groups/{gid} for what the simulator models of
// it: adding members in bulk with "members@odata.bind" (1 to 20 directory
// object URLs). Graph applies all or none: a reference to an unknown
// object answers 404, one to an existing member 400, and nothing changes
// (Tenant.addMembers).
// Other group properties are refused as unsupported by the simulator.
func patchGroup(c *call) *apiError {
	obj, e := parseObject(c.body)
	if e != nil {
		return e
	}
	if raw, ok := obj["@odata.type"]; ok {
		// The SDKs send the entity's type: Graph accepts its own.
		var typ string
		if json.Unmarshal(raw, &typ) != nil || (typ != "#microsoft.graph.group" && typ != "microsoft.graph.group") {
			return &apiError{http.StatusBadRequest, codeBadRequest, "A type named '" + strings.Trim(string(raw), `"#`) +
				"' could not be resolved by the model. When a model is available, each type name must resolve to a valid type."}
		}
	}
	for k := range obj {
		if k != "members@odata.bind" && k != "@odata.type" {
			return &apiError{http.StatusBadRequest, codeBadRequest,
				"The simulator's PATCH /groups/{id} only adds members (members@odata.bind); '" + k + "' is not supported."}
		}
	}
	var refs []string
	if err := json.Unmarshal(obj["members@odata.bind"], &refs); err != nil || len(refs) == 0 {
		return &apiError{http.StatusBadRequest, codeBadRequest,
			"members@odata.bind must be a non-empty array of directory object URLs."}
	}
	if len(refs) > maxMembersPerRequest {
		return &apiError{http.StatusBadRequest, codeRequestBadRequest,
			"The request exceeds the limit of 20 objects in members@odata.bind."}
	}
	ids := make([]string, len(refs))
	for i, ref := range refs {
		id, ok := parseDirectoryObjectRef(ref, c.r.Host)
		if !ok {
			return &apiError{http.StatusBadRequest, codeBadRequest, "Invalid URL format specified in @odata.bind: " + ref}
		}
		ids[i] = id
	}
	if e := c.tenant.addMembers(c.params["gid"], ids); e != nil {
		return e
	}
	c.noContent()
	return nil
}
