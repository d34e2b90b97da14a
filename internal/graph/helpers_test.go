package graph_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graph"
	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
)

// xorBox is a test-only SecretBox: XOR with a fixed key, key id "x1".
type xorBox struct{}

const xorKeyID = "x1"

func (xorBox) Seal(p []byte) ([]byte, string, error) { return xor(p), xorKeyID, nil }

func (xorBox) Open(c []byte, keyID string) ([]byte, error) {
	if keyID != xorKeyID {
		return nil, errors.New("unknown key id")
	}
	return xor(c), nil
}

func xor(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = c ^ 0x5a
	}
	return out
}

// bundle is a started simulator with one tenant and a Connector trusting
// the simulator's CA.
type bundle struct {
	sim    *graphsim.Server
	st     *graphsim.Tenant
	tenant *remediation.Tenant
	conn   *graph.Connector
}

func newSim(t *testing.T) *graphsim.Server {
	t.Helper()
	return newSimWith(t, graphsim.Options{})
}

func newSimWith(t *testing.T, simOpts graphsim.Options) *graphsim.Server {
	t.Helper()
	sim, err := graphsim.New(simOpts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

func setup(t *testing.T, opts graph.Options) *bundle {
	t.Helper()
	return setupWith(t, graphsim.Options{}, opts)
}

// setupWith is setup with simulator options.
func setupWith(t *testing.T, simOpts graphsim.Options, opts graph.Options) *bundle {
	t.Helper()
	sim := newSimWith(t, simOpts)
	st := sim.AddTenant(graphsim.TenantSpec{})
	if opts.Box == nil {
		opts.Box = xorBox{}
	}
	if opts.RootCAs == nil && opts.ExtraCAs == nil {
		opts.RootCAs = sim.CAPool()
	}
	return &bundle{sim: sim, st: st, tenant: tenantFor(t, sim, st, st.ClientSecret()), conn: graph.NewConnector(opts)}
}

// tenantFor is the remediation.Tenant of st with the given secret.
func tenantFor(t *testing.T, sim *graphsim.Server, st *graphsim.Tenant, secret string) *remediation.Tenant {
	t.Helper()
	ct, kid, err := xorBox{}.Seal([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return &remediation.Tenant{
		ID:               st.ID(),
		ClientID:         st.ClientID(),
		Cloud:            remediation.CloudCustom,
		GraphEndpoint:    sim.GraphURL(),
		AuthorityHost:    sim.AuthorityURL(),
		UpdatedAt:        time.Now().UTC(),
		SecretCiphertext: ct,
		SecretKeyID:      kid,
	}
}

func (b *bundle) dir(t *testing.T) remediation.Directory {
	t.Helper()
	d, err := b.conn.For(context.Background(), b.tenant)
	if err != nil {
		t.Fatalf("For: %v", err)
	}
	return d
}

// full is the tenant's directory as a remediation.FullDirectory (the
// actions type-assert the same way).
func (b *bundle) full(t *testing.T) remediation.FullDirectory {
	t.Helper()
	d := b.dir(t)
	f, ok := d.(remediation.FullDirectory)
	if !ok {
		t.Fatalf("%T does not implement remediation.FullDirectory", d)
	}
	return f
}

// graphRequests returns the logged Graph requests with the given method.
func graphRequests(sim *graphsim.Server, method string) []graphsim.Request {
	var out []graphsim.Request
	for _, r := range sim.Requests() {
		if r.Endpoint == graphsim.EndpointGraph && r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// tokenRequests counts the requests that reached the token endpoint.
func tokenRequests(sim *graphsim.Server) int {
	n := 0
	for _, r := range sim.Requests() {
		if r.Endpoint == graphsim.EndpointLogin && strings.HasSuffix(r.Path, "/oauth2/v2.0/token") {
			n++
		}
	}
	return n
}

func asGraphError(t *testing.T, err error) *remediation.GraphError {
	t.Helper()
	var ge *remediation.GraphError
	if !errors.As(err, &ge) {
		t.Fatalf("error %v (%T) is not a *remediation.GraphError", err, err)
	}
	return ge
}
