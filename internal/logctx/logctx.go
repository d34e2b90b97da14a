// Package logctx carries log attributes in a context (job, item, task,
// request ids) and adds them, with the trace and span ids of the
// context's span, to every record logged with a *Context method of a
// logger whose handler is wrapped by NewHandler.
package logctx

import (
	"context"
	"log/slog"
	"slices"

	"go.opentelemetry.io/otel/trace"
)

type ctxKey struct{}

// With returns ctx carrying attrs in addition to those it already
// carries; an attribute replaces an earlier one with the same key.
func With(ctx context.Context, attrs ...slog.Attr) context.Context {
	if len(attrs) == 0 {
		return ctx
	}
	prev := Attrs(ctx)
	out := make([]slog.Attr, 0, len(prev)+len(attrs))
	for _, a := range prev {
		if !slices.ContainsFunc(attrs, func(b slog.Attr) bool { return b.Key == a.Key }) {
			out = append(out, a)
		}
	}
	out = append(out, attrs...)
	return context.WithValue(ctx, ctxKey{}, out)
}

// Attrs returns the attributes ctx carries (not to be modified).
func Attrs(ctx context.Context) []slog.Attr {
	a, _ := ctx.Value(ctxKey{}).([]slog.Attr)
	return a
}

// Keys of the trace attributes added by Handler.
const (
	KeyTraceID = "trace_id"
	KeySpanID  = "span_id"
)

// Handler wraps a slog.Handler: each record gets the attributes of its
// context (With) and trace_id and span_id when the context holds a valid
// span context. An attribute the record has itself (same top-level key)
// wins over the context's. Under a logger's group (WithGroup) the added
// attributes land in that group, as any attribute of the record does.
type Handler struct {
	inner slog.Handler
}

// NewHandler returns h wrapped.
func NewHandler(h slog.Handler) *Handler { return &Handler{inner: h} }

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	attrs := Attrs(ctx)
	sc := trace.SpanContextFromContext(ctx)
	if len(attrs) == 0 && !sc.IsValid() {
		return h.inner.Handle(ctx, r)
	}
	var own map[string]bool
	if r.NumAttrs() > 0 {
		own = make(map[string]bool, r.NumAttrs())
		r.Attrs(func(a slog.Attr) bool { own[a.Key] = true; return true })
	}
	r = r.Clone()
	for _, a := range attrs {
		if !own[a.Key] {
			r.AddAttrs(a)
		}
	}
	if sc.IsValid() {
		if !own[KeyTraceID] {
			r.AddAttrs(slog.String(KeyTraceID, sc.TraceID().String()))
		}
		if !own[KeySpanID] {
			r.AddAttrs(slog.String(KeySpanID, sc.SpanID().String()))
		}
	}
	return h.inner.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{inner: h.inner.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name)}
}
