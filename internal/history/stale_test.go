package history_test

import (
	"testing"

	"github.com/entraremediator/remediator/internal/history/storetest"
)

func TestSQLiteStaleContract(t *testing.T) {
	storetest.RunStale(t, func(t *testing.T) storetest.StaleStore { return openSQLite(t) })
}

func TestPostgresStaleContract(t *testing.T) {
	storetest.RunStale(t, func(t *testing.T) storetest.StaleStore { return openPostgres(t) })
}
