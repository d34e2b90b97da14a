package api

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Limits of action parameters.
const (
	maxParamIDs         = 100 // entries of an id list
	maxRoleAssignmentID = 200 // characters of a role assignment id
)

// paramRule validates one parameter of an action. check returns the
// normalized value, or why raw is refused.
type paramRule struct {
	name  string
	check func(raw json.RawMessage) (any, string)
}

// paramRules are the parameters of the actions that take any; each action
// needs exactly one of its parameters. Their names are the catalog's
// (remediation.Catalog), which a test keeps in step. Actions missing here
// take no parameters.
var paramRules = map[remediation.Action][]paramRule{
	remediation.ActionRemoveRoleAssignments: {
		{"role_assignment_ids", checkRoleAssignmentIDs},
		{"role_definition_ids", checkGUIDList},
		{"all", checkAllTrue},
	},
	remediation.ActionRemoveGroupMemberships: {
		{"group_ids", checkGUIDList},
		{"all", checkAllTrue},
	},
}

// checkParams validates the parameters of action (params is the canonical
// object from objectField, nil when absent or empty) and returns them
// normalized: GUIDs lower-cased, duplicates merged, as canonical JSON.
// Every refusal is EINVALID.
func checkParams(action remediation.Action, params json.RawMessage) (json.RawMessage, error) {
	rules := paramRules[action]
	var m map[string]json.RawMessage
	if params != nil {
		if err := json.Unmarshal(params, &m); err != nil {
			return nil, invalid(map[string]any{"field": "parameters"}, "parameters must be a JSON object.")
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(rules) == 0 {
		if len(keys) == 0 {
			return nil, nil
		}
		return nil, invalid(map[string]any{"field": "parameters", "parameters": keys},
			"Action %s takes no parameters; got %s.", action, strings.Join(keys, ", "))
	}

	names := make([]string, len(rules))
	byName := make(map[string]paramRule, len(rules))
	for i, r := range rules {
		names[i] = r.name
		byName[r.name] = r
	}
	oneOf := strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	details := func(extra map[string]any) map[string]any {
		d := map[string]any{"field": "parameters", "one_of": names}
		for k, v := range extra {
			d[k] = v
		}
		return d
	}
	var unknown []string
	for _, k := range keys {
		if _, ok := byName[k]; !ok {
			unknown = append(unknown, truncate(k, 40))
		}
	}
	switch {
	case len(unknown) > 0:
		return nil, invalid(details(map[string]any{"unknown_parameters": unknown}),
			"Unknown parameter(s) of %s: %s; valid: %s.", action, strings.Join(unknown, ", "), strings.Join(names, ", "))
	case len(keys) == 0:
		return nil, invalid(details(nil),
			"Action %s needs parameters: exactly one of %s (all must be true).", action, oneOf)
	case len(keys) > 1:
		return nil, invalid(details(map[string]any{"parameters": keys}),
			"Action %s takes exactly one of %s; got %s.", action, oneOf, strings.Join(keys, " and "))
	}
	name := keys[0]
	value, msg := byName[name].check(m[name])
	if msg != "" {
		return nil, invalid(details(map[string]any{"parameter": name}), "Invalid parameters.%s: %s.", name, msg)
	}
	out, err := json.Marshal(map[string]any{name: value})
	if err != nil {
		return nil, fmt.Errorf("encode parameters: %w", err)
	}
	return out, nil
}

// checkAllTrue accepts only true: "all": false would silently select
// nothing.
func checkAllTrue(raw json.RawMessage) (any, string) {
	var b bool
	if isJSONNull(raw) || json.Unmarshal(raw, &b) != nil {
		return nil, "must be true"
	}
	if !b {
		return nil, "must be true (leave it out and name what to remove instead)"
	}
	return true, ""
}

// checkGUIDList accepts 1..maxParamIDs GUIDs and returns them lower-cased,
// duplicates merged, in first-occurrence order.
func checkGUIDList(raw json.RawMessage) (any, string) {
	return idList(raw, func(s string) (string, string) {
		if !remediation.IsGUID(s) {
			return "", "is not a GUID"
		}
		return strings.ToLower(s), ""
	})
}

// checkRoleAssignmentIDs accepts 1..maxParamIDs role assignment ids:
// opaque, case-sensitive strings of 1..maxRoleAssignmentID printable ASCII
// characters.
func checkRoleAssignmentIDs(raw json.RawMessage) (any, string) {
	return idList(raw, func(s string) (string, string) {
		switch {
		case s == "":
			return "", "is empty"
		case len(s) > maxRoleAssignmentID:
			return "", fmt.Sprintf("is longer than %d characters", maxRoleAssignmentID)
		case !printableASCII(s) || strings.ContainsAny(s, " /?#%"):
			return "", "is not a role assignment id"
		}
		return s, ""
	})
}

// idList decodes a non-empty JSON array of strings of at most maxParamIDs
// entries, normalizes each with norm and merges duplicates.
func idList(raw json.RawMessage, norm func(string) (string, string)) (any, string) {
	var list []*string
	if isJSONNull(raw) || json.Unmarshal(raw, &list) != nil {
		return nil, "must be an array of strings"
	}
	switch {
	case len(list) == 0:
		return nil, "must not be empty"
	case len(list) > maxParamIDs:
		return nil, fmt.Sprintf("must have at most %d entries; got %d", maxParamIDs, len(list))
	}
	out := make([]string, 0, len(list))
	seen := make(map[string]bool, len(list))
	for i, p := range list {
		if p == nil {
			return nil, fmt.Sprintf("entry %d is null", i)
		}
		n, msg := norm(*p)
		if msg != "" {
			return nil, fmt.Sprintf("entry %d (%q) %s", i, truncate(*p, 80), msg)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, ""
}
