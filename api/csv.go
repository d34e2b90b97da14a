package api

import (
	"context"
	"encoding/csv"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// CSV export (Accept: text/csv on GET /v1/history and GET /v1/audit): every
// row matching the filters, from the cursor on, newest first, read from the
// store page by page and written as it comes. limit, when given, caps the
// rows; the export never has more than csvMaxRows.
const (
	mimeCSV    = "text/csv"
	csvMaxRows = 1_000_000
)

// csvPage is the number of rows read from the store at a time (a variable
// for tests).
var csvPage = 1000

// wantsCSV reports whether the Accept header of r names text/csv (with a
// non-zero quality).
func wantsCSV(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get(echo.HeaderAccept), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != mimeCSV {
			continue
		}
		if q, err := strconv.ParseFloat(params["q"], 64); err == nil && q <= 0 {
			continue
		}
		return true
	}
	return false
}

// csvFetch reads one page of at most limit rows from cursor on.
type csvFetch func(ctx context.Context, cursor string, limit int) (rows [][]string, next string, err error)

// streamCSV writes header and the rows of fetch as a CSV attachment named
// name. The first page is read before anything is written, so that its
// error (e.g. a cursor the store does not know) is answered as usual; a
// later error aborts the response, so that a client never takes a cut
// export for a whole one.
func (s *Server) streamCSV(c echo.Context, name string, header []string, cursor string, limit int, fetch csvFetch) error {
	ctx := c.Request().Context()
	max := csvMaxRows
	if limit > 0 {
		max = limit
	}
	rows, next, err := fetch(ctx, cursor, min(csvPage, max))
	if err != nil {
		return err
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	res.WriteHeader(http.StatusOK)
	w := csv.NewWriter(res)
	if err := w.Write(header); err != nil {
		return nil // the client went away
	}
	written := 0
	for {
		for _, row := range rows {
			if written == max {
				break
			}
			for i := range row {
				row[i] = csvCell(row[i])
			}
			if err := w.Write(row); err != nil {
				return nil
			}
			written++
		}
		w.Flush()
		if w.Error() != nil {
			return nil
		}
		if err := http.NewResponseController(res.Writer).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return nil // the client went away
		}
		if next == "" || written == max {
			if next != "" && limit == 0 {
				s.log.WarnContext(ctx, "api: CSV export cut at the row cap", slog.String("export", name),
					slog.Int("rows", written), slog.String("request_id", requestIDOf(c)))
			}
			return nil
		}
		if rows, next, err = fetch(ctx, next, min(csvPage, max-written)); err != nil {
			if ctx.Err() != nil {
				return nil // the client went away
			}
			s.log.ErrorContext(ctx, "api: CSV export failed", slog.String("export", name), slog.Int("rows", written),
				slog.String("request_id", requestIDOf(c)), slog.Any("err", err))
			panic(http.ErrAbortHandler)
		}
	}
}

// csvCell keeps a spreadsheet from running a cell as a formula: a value
// starting with =, +, -, @, tab or carriage return gets a leading '.
func csvCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

var historyCSVHeader = []string{"id", "at", "tenant_id", "job_id", "action", "identity", "status", "detail",
	"error_code", "error_message", "attempts", "graph_request_id", "reason", "actor", "requested_by"}

// streamHistoryCSV exports the outcomes matching f.
func (s *Server) streamHistoryCSV(c echo.Context, f remediation.HistoryFilter) error {
	return s.streamCSV(c, "history.csv", historyCSVHeader, f.Cursor, f.Limit,
		func(ctx context.Context, cursor string, limit int) ([][]string, string, error) {
			f.Cursor, f.Limit = cursor, limit
			outcomes, next, err := s.cfg.Store.History(ctx, f)
			if err != nil {
				return nil, "", storeListError("history", err)
			}
			rows := make([][]string, len(outcomes))
			for i, o := range outcomes {
				var code, msg string
				if o.Error != nil {
					code, msg = o.Error.Code, o.Error.Message
				}
				rows[i] = []string{strconv.FormatInt(o.ID, 10), csvTime(o.At), o.TenantID, o.JobID, string(o.Action),
					o.Identity, string(o.Status), o.Detail, code, msg, strconv.Itoa(o.Attempts), o.GraphRequestID,
					o.Reason, o.Actor, o.RequestedBy}
			}
			return rows, next, nil
		})
}

var auditCSVHeader = []string{"id", "at", "key_id", "key_name", "actor", "action", "tenant_id", "target",
	"details", "remote_addr", "request_id"}

// streamAuditCSV exports the audit entries matching f.
func (s *Server) streamAuditCSV(c echo.Context, f remediation.AuditFilter) error {
	return s.streamCSV(c, "audit.csv", auditCSVHeader, f.Cursor, f.Limit,
		func(ctx context.Context, cursor string, limit int) ([][]string, string, error) {
			f.Cursor, f.Limit = cursor, limit
			entries, next, err := s.access.ListAudit(ctx, f)
			if err != nil {
				return nil, "", storeListError("list audit", err)
			}
			rows := make([][]string, len(entries))
			for i, e := range entries {
				rows[i] = []string{strconv.FormatInt(e.ID, 10), csvTime(e.At), e.KeyID, e.KeyName, e.Actor, e.Action,
					e.TenantID, e.Target, string(e.Details), e.RemoteAddr, e.RequestID}
			}
			return rows, next, nil
		})
}
