package history

import (
	"context"

	"github.com/entraremediator/remediator/internal/remediation"
)

// ResealWebhookSecret replaces a webhook's sealed signing secret (key
// rotation: the same secret sealed under the current key). ENOTFOUND.
func (s *Store) ResealWebhookSecret(ctx context.Context, id string, ciphertext []byte, keyID string) (err error) {
	defer wrap(&err, "history.ResealWebhookSecret(%s)", id)
	res, err := s.db.ExecContext(ctx, `UPDATE webhooks SET secret_ciphertext = $2, secret_key_id = $3 WHERE id = $1`,
		id, ciphertext, keyID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return remediation.Errorf(remediation.ENOTFOUND, "webhook %s not found", id)
	}
	return nil
}
