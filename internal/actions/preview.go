package actions

import (
	"encoding/json"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Preview values: the "preview" of a dry run's Results, what the real run
// would do.
const (
	previewWouldChange         = "would_change"
	previewNoChange            = "no_change"
	previewSkippedGuest        = "skipped_guest"
	previewRejectedProtected   = "rejected_protected"
	previewRejectedAdminTarget = "rejected_admin_target"
	previewRejectedNotGA       = "rejected_not_global_admin"
	previewRejectedParameters  = "rejected_invalid_parameters"
	previewNotRemovable        = "not_removable"
	previewNothingToUndo       = "nothing_to_undo"
	previewNotUndoable         = "not_undoable"
)

// preview returns the Results of a dry run without per-target entries.
func preview(p string) json.RawMessage {
	b, _ := json.Marshal(struct {
		Preview string `json:"preview"`
	}{p})
	return b
}

// withPreview marks res with a preview when the job is a dry run.
func withPreview(res remediation.Result, dry bool, p string) remediation.Result {
	if dry {
		res.Results = preview(p)
	}
	return res
}
