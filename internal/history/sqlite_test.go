package history_test

import (
	"path/filepath"
	"testing"

	"github.com/entraremediator/remediator/internal/history"
	"github.com/entraremediator/remediator/internal/history/storetest"
	"github.com/entraremediator/remediator/internal/remediation"
)

func openSQLite(t *testing.T) *history.Store {
	t.Helper()
	s, err := history.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "sub", "history.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if s.Dialect() != "sqlite" {
		t.Fatalf("Dialect = %q", s.Dialect())
	}
	return s
}

func TestSQLiteContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) remediation.Store { return openSQLite(t) })
}

func TestSQLiteAccessContract(t *testing.T) {
	storetest.RunAccess(t, func(t *testing.T) storetest.AccessStore { return openSQLite(t) })
}
