package graph_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/entraremediator/remediator/internal/graphsim"
)

// lastRequest returns the last Graph request with this method and
// (unescaped) path.
func lastRequest(t *testing.T, sim *graphsim.Server, method, path string) graphsim.Request {
	t.Helper()
	reqs := requestsTo(sim, method, path)
	if len(reqs) == 0 {
		t.Fatalf("no %s %s request reached the simulator", method, path)
	}
	return reqs[len(reqs)-1]
}

// requestsTo returns the Graph requests with this method and path.
func requestsTo(sim *graphsim.Server, method, path string) []graphsim.Request {
	var out []graphsim.Request
	for _, r := range graphRequests(sim, method) {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// lastBody decodes the JSON body of the last request with this method and
// path.
func lastBody(t *testing.T, sim *graphsim.Server, method, path string) map[string]any {
	t.Helper()
	return decodeBody(t, lastRequest(t, sim, method, path))
}

func decodeBody(t *testing.T, r graphsim.Request) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%s %s body %q: %v", r.Method, r.Path, r.Body, err)
	}
	return m
}

// sameFields reports whether body holds exactly the fields of want (with
// equal values), ignoring the keys in ignore.
func sameFields(body, want map[string]any, ignore ...string) bool {
	got := make(map[string]any, len(body))
	for k, v := range body {
		got[k] = v
	}
	for _, k := range ignore {
		delete(got, k)
	}
	return reflect.DeepEqual(got, want)
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}
