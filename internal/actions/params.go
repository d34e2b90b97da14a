package actions

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/entraremediator/remediator/internal/remediation"
)

// targetParams are the parameters of the single-identity actions: exactly
// one of a list of ids (the field named by the action) or all=true.
type targetParams struct {
	RoleAssignmentIDs []string `json:"role_assignment_ids"`
	RoleDefinitionIDs []string `json:"role_definition_ids"`
	GroupIDs          []string `json:"group_ids"`
	All               bool     `json:"all"`
}

// parseParams decodes the job's parameters and checks that exactly one of
// the allowed forms is given (lists named in lists, or all). It returns a
// failed Result (code invalid_parameters) when they are not.
func parseParams(x *remediation.Exec, objectID string, lists ...string) (targetParams, *remediation.Result) {
	var p targetParams
	bad := func(msg string) (targetParams, *remediation.Result) {
		res := refusal(x, remediation.ItemFailed, objectID, CodeInvalidParameters, msg, previewRejectedParameters)
		return p, &res
	}
	raw := bytes.TrimSpace(x.Job.Params)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return bad("parameters are required: " + formsText(lists))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&p); err != nil {
		return bad("parameters are not valid JSON of the expected shape: " + formsText(lists))
	}
	given := 0
	for _, name := range lists {
		if len(p.list(name)) > 0 {
			given++
		}
	}
	if p.All {
		given++
	}
	if given != 1 {
		return bad("give exactly one of " + formsText(lists))
	}
	for _, name := range lists {
		for _, id := range p.list(name) {
			if id == "" {
				return bad(name + " holds an empty id")
			}
		}
	}
	return p, nil
}

func (p targetParams) list(name string) []string {
	switch name {
	case "role_assignment_ids":
		return p.RoleAssignmentIDs
	case "role_definition_ids":
		return p.RoleDefinitionIDs
	case "group_ids":
		return p.GroupIDs
	}
	return nil
}

func formsText(lists []string) string {
	return strings.Join(lists, ", ") + " or all=true"
}
