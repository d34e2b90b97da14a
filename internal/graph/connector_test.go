package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graph"
	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
)

func TestCallLogAndLogging(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := setup(t, graph.Options{Logger: logger})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "ida@contoso.example", AccountEnabled: true})
	log := &remediation.CallLog{}
	ctx := remediation.WithCallLog(context.Background(), log)
	d := b.dir(t)

	before := time.Now().UTC()
	if _, err := d.GetUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.SetAccountEnabled(ctx, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetUser(ctx, "missing@contoso.example"); err == nil {
		t.Fatal("GetUser(missing) succeeded")
	}

	reqs := b.sim.Requests()
	var simIDs []string
	for _, r := range reqs {
		if r.Endpoint == graphsim.EndpointGraph {
			simIDs = append(simIDs, r.RequestID)
		}
	}
	calls := log.Calls()
	want := []struct {
		op     string
		status int
		code   string
	}{
		{graph.OpGetUser, 200, ""},
		{graph.OpSetAccountEnabled, 204, ""},
		{graph.OpGetUser, 404, "Request_ResourceNotFound"},
	}
	if len(calls) != len(want) || len(simIDs) != len(want) {
		t.Fatalf("%d calls, %d Graph requests, want %d: %+v", len(calls), len(simIDs), len(want), calls)
	}
	for i, w := range want {
		c := calls[i]
		if c.Operation != w.op || c.HTTPStatus != w.status || c.ErrorCode != w.code {
			t.Errorf("call %d = %s %d %q, want %s %d %q", i, c.Operation, c.HTTPStatus, c.ErrorCode, w.op, w.status, w.code)
		}
		if c.RequestID == "" || c.RequestID != simIDs[i] {
			t.Errorf("call %d request id %q, simulator's %q", i, c.RequestID, simIDs[i])
		}
		if c.Time.Before(before.Add(-time.Second)) || c.Duration <= 0 || c.DurationMS <= 0 {
			t.Errorf("call %d time %v duration %v (%v ms)", i, c.Time, c.Duration, c.DurationMS)
		}
	}

	// One log record per call, successes included; never the secret.
	out := buf.String()
	if strings.Contains(out, b.st.ClientSecret()) {
		t.Fatal("log holds the client secret")
	}
	var records []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["operation"] != nil {
			records = append(records, m)
		}
	}
	if len(records) != 3 {
		t.Fatalf("%d call records, want 3:\n%s", len(records), out)
	}
	if records[1]["level"] != "DEBUG" || records[1]["http_status"] != float64(204) || records[1]["request_id"] != simIDs[1] {
		t.Errorf("success record %v", records[1])
	}
	if records[2]["level"] != "WARN" || records[2]["error_code"] != "Request_ResourceNotFound" {
		t.Errorf("failure record %v", records[2])
	}
}

func TestOneCredentialPerTenant(t *testing.T) {
	b := setup(t, graph.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "jack@contoso.example", AccountEnabled: true})
	ctx := context.Background()

	var wg sync.WaitGroup
	dirs := make([]remediation.Directory, 8)
	for i := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tc := *b.tenant // each caller loads its own copy of the tenant row
			d, err := b.conn.For(ctx, &tc)
			if err != nil {
				t.Error(err)
				return
			}
			dirs[i] = d
		}()
	}
	wg.Wait()
	for i := range dirs {
		if dirs[i] != dirs[0] {
			t.Fatalf("For returned different directories for the same tenant")
		}
		if _, err := dirs[i].GetUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := dirs[0].SetAccountEnabled(ctx, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if n := tokenRequests(b.sim); n != 1 {
		t.Fatalf("token endpoint hit %d times for 9 calls, want 1", n)
	}

	// A second tenant gets its own credential.
	st2 := b.sim.AddTenant(graphsim.TenantSpec{})
	u2 := st2.AddUser(graphsim.UserSpec{UserPrincipalName: "kim@other.example", AccountEnabled: true})
	d2, err := b.conn.For(ctx, tenantFor(t, b.sim, st2, st2.ClientSecret()))
	if err != nil {
		t.Fatal(err)
	}
	if d2 == dirs[0] {
		t.Fatal("two tenants share a directory")
	}
	if _, err := d2.GetUser(ctx, u2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d2.GetUser(ctx, u.ID); err == nil {
		t.Fatal("tenant 2 reads tenant 1's user")
	}
	if n := tokenRequests(b.sim); n != 2 {
		t.Fatalf("token endpoint hit %d times, want 2", n)
	}
}

func TestRotatedSecretUsesNewCredential(t *testing.T) {
	b := setup(t, graph.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "liam@contoso.example", AccountEnabled: true})
	ctx := context.Background()

	// Registered with a wrong secret: fails.
	bad := tenantFor(t, b.sim, b.st, "not-the-secret")
	dBad, err := b.conn.For(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dBad.GetUser(ctx, u.ID); asGraphError(t, err).Code != graph.CodeAuthentication {
		t.Fatalf("wrong secret: %v", err)
	}
	// Same row again: same cached directory.
	if d, _ := b.conn.For(ctx, bad); d != dBad {
		t.Fatal("unchanged tenant got a new directory")
	}

	// The operator fixes the secret: new UpdatedAt and ciphertext.
	good := tenantFor(t, b.sim, b.st, b.st.ClientSecret())
	good.UpdatedAt = bad.UpdatedAt.Add(time.Second)
	dGood, err := b.conn.For(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	if dGood == dBad {
		t.Fatal("rotated tenant kept its directory")
	}
	if _, err := dGood.GetUser(ctx, u.ID); err != nil {
		t.Fatalf("after rotation: %v", err)
	}

	// A change of UpdatedAt alone also builds a new credential (a new token
	// request), while a directory obtained before keeps working.
	tokensBefore := tokenRequests(b.sim)
	touched := *good
	touched.UpdatedAt = good.UpdatedAt.Add(time.Second)
	dNew, err := b.conn.For(ctx, &touched)
	if err != nil {
		t.Fatal(err)
	}
	if dNew == dGood {
		t.Fatal("new UpdatedAt kept the directory")
	}
	if _, err := dNew.GetUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := dGood.GetUser(ctx, u.ID); err != nil {
		t.Fatalf("old directory after rotation: %v", err)
	}
	if n := tokenRequests(b.sim) - tokensBefore; n != 1 {
		t.Fatalf("%d token requests after the change, want 1 (new credential only)", n)
	}

	// A worker still holding the older row does not evict the newer
	// credential.
	if d, err := b.conn.For(ctx, good); err != nil || d == dNew {
		t.Fatalf("older snapshot: %v, same directory %v", err, d == dNew)
	}
	if d, _ := b.conn.For(ctx, &touched); d != dNew {
		t.Fatal("an older snapshot evicted the newer directory")
	}
}

func TestForRefusesUnusableTenants(t *testing.T) {
	b := setup(t, graph.Options{})
	ctx := context.Background()
	for name, mut := range map[string]func(*remediation.Tenant){
		"http graph":     func(t *remediation.Tenant) { t.GraphEndpoint = "http://127.0.0.1:1/v1.0" },
		"http authority": func(t *remediation.Tenant) { t.AuthorityHost = "http://127.0.0.1:1/" },
		"no endpoints":   func(t *remediation.Tenant) { t.GraphEndpoint, t.AuthorityHost = "", "" },
		"unknown cloud":  func(t *remediation.Tenant) { t.Cloud = "mars" },
		"no client id":   func(t *remediation.Tenant) { t.ClientID = "" },
		"bad key id":     func(t *remediation.Tenant) { t.SecretKeyID = "other" },
		"no tenant id":   func(t *remediation.Tenant) { t.ID = "" },
		"invalid tenant": func(t *remediation.Tenant) { t.ID = "a/b c" },
		"empty secret":   func(t *remediation.Tenant) { t.SecretCiphertext = nil },
	} {
		tc := *b.tenant
		mut(&tc)
		if d, err := b.conn.For(ctx, &tc); err == nil {
			t.Errorf("%s: For succeeded (%v)", name, d)
		}
	}
}

func TestExtraCAs(t *testing.T) {
	sim := newSim(t)
	st := sim.AddTenant(graphsim.TenantSpec{})
	u := st.AddUser(graphsim.UserSpec{UserPrincipalName: "mia@contoso.example", AccountEnabled: true})
	conn := graph.NewConnector(graph.Options{Box: xorBox{}, ExtraCAs: sim.CACertPEM()})
	d, err := conn.For(context.Background(), tenantFor(t, sim, st, st.ClientSecret()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetUser(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := graph.NewConnector(graph.Options{Box: xorBox{}, ExtraCAs: []byte("junk")}).For(context.Background(),
		tenantFor(t, sim, st, st.ClientSecret())); err == nil {
		t.Fatal("junk ExtraCAs accepted")
	}
}

// TestSystemPoolFromSSLCertFile re-executes the test binary with
// SSL_CERT_FILE pointing at the simulator's CA and RootCAs nil: the system
// pool path must trust it. With another CA in SSL_CERT_FILE the same call
// fails with a network error, proving where the trust comes from.
func TestSystemPoolFromSSLCertFile(t *testing.T) {
	if os.Getenv("GRAPHTEST_CHILD") == "1" {
		sslChild(t)
		return
	}
	sim := newSim(t)
	st := sim.AddTenant(graphsim.TenantSpec{})
	u := st.AddUser(graphsim.UserSpec{UserPrincipalName: "noah@contoso.example", AccountEnabled: true})
	dir, emptyDir := t.TempDir(), t.TempDir()
	simCA := filepath.Join(dir, "sim-ca.pem")
	if err := sim.WriteCA(simCA); err != nil {
		t.Fatal(err)
	}
	other, err := graphsim.New(graphsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	otherCA := filepath.Join(dir, "other-ca.pem")
	if err := other.WriteCA(otherCA); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ caFile, expect string }{{simCA, "ok"}, {otherCA, graph.CodeNetwork}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSystemPoolFromSSLCertFile$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(),
			"GRAPHTEST_CHILD=1",
			"SSL_CERT_FILE="+tc.caFile,
			"SSL_CERT_DIR="+emptyDir, // no system directory: only the file is trusted
			"GRAPHTEST_GRAPH="+sim.GraphURL(),
			"GRAPHTEST_AUTHORITY="+sim.AuthorityURL(),
			"GRAPHTEST_TENANT="+st.ID(),
			"GRAPHTEST_CLIENT="+st.ClientID(),
			"GRAPHTEST_SECRET="+st.ClientSecret(),
			"GRAPHTEST_USER="+u.ID,
			"GRAPHTEST_EXPECT="+tc.expect,
		)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "CHILD-RESULT "+tc.expect) {
			t.Fatalf("child with %s (expect %s): %v\n%s", filepath.Base(tc.caFile), tc.expect, err, out)
		}
	}
}

func sslChild(t *testing.T) {
	ct, kid, _ := xorBox{}.Seal([]byte(os.Getenv("GRAPHTEST_SECRET")))
	tenant := &remediation.Tenant{
		ID: os.Getenv("GRAPHTEST_TENANT"), ClientID: os.Getenv("GRAPHTEST_CLIENT"), Cloud: remediation.CloudCustom,
		GraphEndpoint: os.Getenv("GRAPHTEST_GRAPH"), AuthorityHost: os.Getenv("GRAPHTEST_AUTHORITY"),
		UpdatedAt: time.Now(), SecretCiphertext: ct, SecretKeyID: kid,
	}
	conn := graph.NewConnector(graph.Options{Box: xorBox{}}) // RootCAs nil: system pool
	d, err := conn.For(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	u, err := d.GetUser(context.Background(), os.Getenv("GRAPHTEST_USER"))
	result := "ok"
	if err != nil {
		ge := asGraphError(t, err)
		result = ge.Code
		if ge.Status != 0 {
			t.Fatalf("unexpected answer: %v", ge)
		}
	} else if u.ID != os.Getenv("GRAPHTEST_USER") {
		t.Fatalf("user %+v", u)
	}
	t.Logf("CHILD-RESULT %s", result)
	if result != os.Getenv("GRAPHTEST_EXPECT") {
		t.Fatalf("result %s (%v), want %s", result, err, os.Getenv("GRAPHTEST_EXPECT"))
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
