package actions

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/entraremediator/remediator/internal/remediation"
)

// outcome is the result of one target (a role assignment, a group) of a
// single-identity action.
type outcome struct {
	Status remediation.ItemStatus `json:"status"`
	Detail string                 `json:"detail"`
	Error  *remediation.ItemError `json:"error,omitempty"`
	// changed: the target was (or, in a dry run, would be) changed.
	changed bool
}

func changed(detail string) outcome {
	return outcome{Status: remediation.ItemSucceeded, Detail: detail, changed: true}
}

func noChange(detail string) outcome {
	return outcome{Status: remediation.ItemSucceeded, Detail: detail}
}

func notRemovable(detail string) outcome {
	return outcome{Status: remediation.ItemSkipped, Detail: detail}
}

func failed(code, message string) outcome {
	return outcome{Status: remediation.ItemFailed, Detail: message,
		Error: &remediation.ItemError{Code: code, Message: message}}
}

func failedWith(e *remediation.ItemError) outcome {
	return outcome{Status: remediation.ItemFailed, Detail: e.Message, Error: e}
}

// targetsResult builds the item's Result from its targets' outcomes:
// failed if any target failed (with the first error), skipped if no
// target could be changed at all, succeeded otherwise; Detail counts the
// outcomes ("2 removed, 1 no change"). verb is the change ("removed",
// "restored"); a dry run says "would be <verb>" and adds the preview.
func targetsResult(x *remediation.Exec, objectID, verb string, outs []outcome, targets any) (remediation.Result, error) {
	var nChanged, nSame, nSkipped, nFailed int
	var firstErr *remediation.ItemError
	for _, o := range outs {
		switch {
		case o.Status == remediation.ItemFailed:
			nFailed++
			if firstErr == nil {
				firstErr = o.Error
			}
		case o.Status == remediation.ItemSkipped:
			nSkipped++
		case o.changed:
			nChanged++
		default:
			nSame++
		}
	}
	if x.DryRun() {
		verb = "would be " + verb
	}
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{nChanged, verb}, {nSame, "no change"}, {nSkipped, "not removable here"}, {nFailed, "failed"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	res := remediation.Result{Status: remediation.ItemSucceeded, ObjectID: objectID, Detail: strings.Join(parts, ", ")}
	if len(parts) == 0 {
		res.Detail = "nothing to do: no change"
	}
	pv := previewNoChange
	switch {
	case nFailed > 0:
		res.Status, res.Error = remediation.ItemFailed, firstErr
		pv = previewNotRemovable
	case nChanged == 0 && nSkipped > 0 && nSame == 0:
		res.Status = remediation.ItemSkipped
		pv = previewNotRemovable
	}
	if nChanged > 0 {
		pv = previewWouldChange
	}
	doc := struct {
		Preview string `json:"preview,omitempty"`
		Targets any    `json:"targets"`
	}{Targets: targets}
	if x.DryRun() {
		doc.Preview = pv
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return remediation.Result{}, fmt.Errorf("%s: encode results: %w", x.Job.Action, err)
	}
	res.Results = b
	return res, nil
}
