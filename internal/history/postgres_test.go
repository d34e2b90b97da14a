package history_test

import (
	"testing"

	"github.com/entraremediator/remediator/internal/history"
	"github.com/entraremediator/remediator/internal/history/storetest"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/internal/testenv"
)

func openPostgres(t *testing.T) *history.Store {
	t.Helper()
	s, err := history.Open(t.Context(), testenv.Postgres(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if s.Dialect() != "postgres" {
		t.Fatalf("Dialect = %q", s.Dialect())
	}
	return s
}

func TestPostgresContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) remediation.Store { return openPostgres(t) })
}

func TestPostgresAccessContract(t *testing.T) {
	storetest.RunAccess(t, func(t *testing.T) storetest.AccessStore { return openPostgres(t) })
}
