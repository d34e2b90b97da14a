package graphsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// objProp is one property of a Graph entity type rendered from T.
type objProp[T any] struct {
	name string
	def  bool // returned without $select
	get  func(T) any
}

// propSet is the property table of one entity type.
type propSet[T any] struct {
	typeName string // e.g. "microsoft.graph.group"
	props    []*objProp[T]
	fold     map[string]*objProp[T]
}

func newPropSet[T any](typeName string, props []*objProp[T]) *propSet[T] {
	ps := &propSet[T]{typeName: typeName, props: props, fold: make(map[string]*objProp[T], len(props))}
	for _, p := range props {
		ps.fold[strings.ToLower(p.name)] = p
	}
	return ps
}

// parseSelect resolves $select (case-insensitive names, "*" for all) to
// properties and the @odata.context projection "(a,b)"; an empty $select
// gives the default properties and "".
func (ps *propSet[T]) parseSelect(sel string) ([]*objProp[T], string, *apiError) {
	sel = strings.TrimSpace(sel)
	if sel == "" {
		var def []*objProp[T]
		for _, p := range ps.props {
			if p.def {
				def = append(def, p)
			}
		}
		return def, "", nil
	}
	var (
		out   []*objProp[T]
		names []string
		seen  = map[*objProp[T]]bool{}
	)
	for _, n := range strings.Split(sel, ",") {
		n = strings.TrimSpace(n)
		if n == "*" {
			for _, p := range ps.props {
				if !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
			}
			names = append(names, "*")
			continue
		}
		p := ps.fold[strings.ToLower(n)]
		if p == nil {
			return nil, "", &apiError{http.StatusBadRequest, codeRequestBadRequest,
				"Could not find a property named '" + n + "' on type '" + ps.typeName + "'."}
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
			names = append(names, p.name)
		}
	}
	return out, "(" + strings.Join(names, ",") + ")", nil
}

// writeObject renders v with props; withType adds "@odata.type" first (as
// Graph does in collections of directory objects).
func (ps *propSet[T]) writeObject(buf *bytes.Buffer, v T, props []*objProp[T], withType bool) {
	buf.WriteByte('{')
	first := true
	if withType {
		buf.WriteString(`"@odata.type":"#` + ps.typeName + `"`)
		first = false
	}
	for _, p := range props {
		if !first {
			buf.WriteByte(',')
		}
		first = false
		writeJSONValue(buf, p.name)
		buf.WriteByte(':')
		writeJSONValue(buf, p.get(v))
	}
	buf.WriteByte('}')
}

// writeCollection answers 200 with {"@odata.context", "@odata.nextLink"?,
// "value": [items]}.
func (c *call) writeCollection(context, next string, items [][]byte) {
	var buf bytes.Buffer
	buf.WriteString(`{"@odata.context":`)
	writeJSONValue(&buf, graphMetadata+"#"+context)
	if next != "" {
		buf.WriteString(`,"@odata.nextLink":`)
		writeJSONValue(&buf, next)
	}
	buf.WriteString(`,"value":[`)
	for i, it := range items {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(it)
	}
	buf.WriteString("]}")
	c.writeJSON(http.StatusOK, buf.Bytes())
}

// page returns the bounds of the requested page of n items ($top, default
// defSize, at most 999; $skiptoken from a previous nextLink) and the
// @odata.nextLink of the following page ("" on the last page). The link
// points at the host the request was sent to.
func (c *call) page(n, defSize int) (lo, hi int, next string, e *apiError) {
	size := defSize
	if v := c.query.Get("$top"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 || k > 999 {
			return 0, 0, "", &apiError{http.StatusBadRequest, codeRequestBadRequest,
				"Invalid page size specified: '" + v + "'. Must be between 1 and 999 inclusive."}
		}
		size = k
	}
	if tok := c.query.Get("$skiptoken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		k, err2 := strconv.Atoi(strings.TrimPrefix(string(raw), "graphsim:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(raw), "graphsim:") || k < 0 {
			return 0, 0, "", &apiError{http.StatusBadRequest, codeRequestBadRequest, "The specified page token value has expired or is invalid."}
		}
		lo = k
	}
	lo = min(lo, n)
	hi = min(lo+size, n)
	if hi < n {
		q := c.r.URL.Query()
		q.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte("graphsim:"+strconv.Itoa(hi))))
		next = "https://" + c.r.Host + c.r.URL.EscapedPath() + "?" + q.Encode()
	}
	return lo, hi, next, nil
}

// eqClause is one "prop eq 'value'" term of a $filter.
type eqClause struct{ prop, val string }

// parseEqFilter parses a conjunction of string equality terms:
// "principalId eq 'x' and roleDefinitionId eq 'y'" (a doubled quote escapes
// a quote).
func parseEqFilter(f string) ([]eqClause, bool) {
	var out []eqClause
	s := strings.TrimSpace(f)
	for {
		i := strings.IndexFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
		if i <= 0 {
			return nil, false
		}
		prop := s[:i]
		s = strings.TrimLeft(s[i:], " \t")
		if len(s) < 3 || !strings.EqualFold(s[:2], "eq") || (s[2] != ' ' && s[2] != '\t') {
			return nil, false
		}
		s = strings.TrimLeft(s[2:], " \t")
		if s == "" || s[0] != '\'' {
			return nil, false
		}
		var val strings.Builder
		j := 1
		for ; j < len(s); j++ {
			if s[j] == '\'' {
				if j+1 < len(s) && s[j+1] == '\'' {
					val.WriteByte('\'')
					j++
					continue
				}
				break
			}
			val.WriteByte(s[j])
		}
		if j >= len(s) {
			return nil, false
		}
		out = append(out, eqClause{prop, val.String()})
		s = strings.TrimLeft(s[j+1:], " \t")
		if s == "" {
			return out, true
		}
		if len(s) < 4 || !strings.EqualFold(s[:3], "and") || (s[3] != ' ' && s[3] != '\t') {
			return nil, false
		}
		s = strings.TrimLeft(s[3:], " \t")
	}
}

// parseObject decodes a JSON object request body.
func parseObject(body []byte) (map[string]json.RawMessage, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &apiError{http.StatusBadRequest, codeBadRequest, "Empty Payload. JSON content expected."}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, &apiError{http.StatusBadRequest, codeBadRequest, msgUnreadablePayload}
	}
	return obj, nil
}

// unknownProperty is OData's answer to a property the type does not have.
func unknownProperty(name, typeName string) *apiError {
	return &apiError{http.StatusBadRequest, codeBadRequest, "The property '" + name + "' does not exist on type '" + typeName +
		"'. Make sure to only use property names that are defined by the type or mark the type as open type."}
}

// isAnnotation reports whether a JSON key is an instance annotation
// ("@odata.type", "members@odata.bind", ...).
func isAnnotation(k string) bool { return strings.Contains(k, "@") }

// isGUID reports whether s is a GUID in 8-4-4-4-12 form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}
