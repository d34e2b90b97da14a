package graphsim

import (
	"net/http"
	"net/url"
	"strings"
)

// route is one method + path pattern, e.g. "PATCH /users/{id}". Literal
// segments match case-insensitively (as Graph does); "{name}" segments match
// any one segment.
type route[H any] struct {
	method  string
	pattern string
	op      string // "METHOD pattern", the Operation in logs and faults
	segs    []string
	h       H
}

// router is a small method + path-pattern router. Each resource area
// registers its routes in its own file.
type router[H any] struct {
	routes []*route[H]
}

func newRouter[H any]() *router[H] { return &router[H]{} }

// handle registers h for method and pattern (e.g. "/users/{id}").
func (rt *router[H]) handle(method, pattern string, h H) {
	rt.routes = append(rt.routes, &route[H]{
		method:  method,
		pattern: pattern,
		op:      method + " " + pattern,
		segs:    strings.Split(strings.Trim(pattern, "/"), "/"),
		h:       h,
	})
}

// matchResult is the outcome of router.match.
type matchResult[H any] struct {
	route  *route[H]
	params map[string]string
	// methodNotAllowed: the path exists for other methods only.
	methodNotAllowed bool
	// badSegment is the first segment no route knows ("" when the path is
	// a strict prefix of known routes).
	badSegment string
}

func (rt *router[H]) match(method string, segs []string) matchResult[H] {
	var (
		best        *route[H]
		bestLit     = -1
		pathMatched bool
		deepest     int
	)
	for _, r := range rt.routes {
		k, lits := prefixMatch(r.segs, segs)
		if k > deepest {
			deepest = k
		}
		if k != len(segs) || len(r.segs) != len(segs) {
			continue
		}
		pathMatched = true
		if r.method == method && lits > bestLit {
			best, bestLit = r, lits
		}
	}
	if best != nil {
		params := make(map[string]string, 2)
		for i, p := range best.segs {
			if isParam(p) {
				params[p[1:len(p)-1]] = segs[i]
			}
		}
		return matchResult[H]{route: best, params: params}
	}
	if pathMatched {
		return matchResult[H]{methodNotAllowed: true}
	}
	if deepest < len(segs) {
		return matchResult[H]{badSegment: segs[deepest]}
	}
	return matchResult[H]{}
}

// prefixMatch returns how many leading segments of path match pattern and
// how many of those were literal.
func prefixMatch(pattern, path []string) (n, literals int) {
	for n < len(pattern) && n < len(path) {
		p := pattern[n]
		switch {
		case isParam(p):
		case strings.EqualFold(p, path[n]):
			literals++
		default:
			return n, literals
		}
		n++
	}
	return n, literals
}

func isParam(seg string) bool { return len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' }

// splitPath splits the request path into unescaped, non-empty segments.
func splitPath(r *http.Request) []string {
	raw := strings.Split(r.URL.EscapedPath(), "/")
	segs := make([]string, 0, len(raw))
	for _, s := range raw {
		if s == "" {
			continue
		}
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
		segs = append(segs, s)
	}
	return segs
}
