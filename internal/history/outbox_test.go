package history_test

import (
	"testing"

	"github.com/entraremediator/remediator/internal/history"
	"github.com/entraremediator/remediator/internal/history/storetest"
)

func TestSQLiteOutboxContract(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T) storetest.OutboxStore { return openSQLite(t) })
}

func TestPostgresOutboxContract(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T) storetest.OutboxStore { return openPostgres(t) })
}

func TestDeliveryID(t *testing.T) {
	a := history.DeliveryID("w1", "job.finished", "j1", -1)
	if len(a) != 32 || a != history.DeliveryID("w1", "job.finished", "j1", -1) {
		t.Fatalf("DeliveryID = %q, want 32 stable hex digits", a)
	}
	for _, other := range []string{
		history.DeliveryID("w2", "job.finished", "j1", -1),
		history.DeliveryID("w1", "item.failed", "j1", -1),
		history.DeliveryID("w1", "job.finished", "j2", -1),
		history.DeliveryID("w1", "job.finished", "j1", 0),
		history.DeliveryID("w1j", "ob.finished", "j1", -1),
	} {
		if other == a {
			t.Fatalf("DeliveryID collides: %q", other)
		}
	}
}
