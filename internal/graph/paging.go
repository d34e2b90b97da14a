package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/entraremediator/remediator/internal/remediation"
)

// maxPages bounds the pages one listing follows (a server that keeps
// answering with a nextLink must not loop forever).
const maxPages = 1000

// page is a Graph collection response: one page of values and the link
// to the next one.
type page[T any] interface {
	GetValue() []T
	GetOdataNextLink() *string
}

// listAll reads every page of a collection. get fetches the first page when
// next is "", else the page at the nextLink next. Each page is one call
// (call log entry, time-out, error mapping) named op.
func listAll[T any, P page[T]](ctx context.Context, d *directory, op, target string,
	get func(ctx context.Context, next string) (P, error)) ([]T, error) {
	var out []T
	next := ""
	seen := make(map[string]bool)
	for range maxPages {
		var p P
		err := d.run(ctx, op, target, func(ctx context.Context) error {
			var err error
			p, err = get(ctx, next)
			if err == nil && any(p) == nil {
				err = errEmptyResponse
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, p.GetValue()...)
		next = deref(p.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		if seen[next] {
			return nil, &remediation.GraphError{Operation: op, Status: 200, Code: CodeInvalidResponse,
				Message: "the collection's nextLink repeats a page"}
		}
		seen[next] = true
	}
	return nil, &remediation.GraphError{Operation: op, Status: 200, Code: CodeInvalidResponse,
		Message: fmt.Sprintf("the collection has more than %d pages", maxPages)}
}

// quote makes s an OData string literal: single quotes doubled, enclosed
// in single quotes.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
