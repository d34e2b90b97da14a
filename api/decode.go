package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

// maxListedFields caps the names listed in details of unknown-field errors.
const maxListedFields = 20

// Limits of every JSON body, checked before it is decoded: nesting depth
// and the length of any one string (fields have their own, smaller caps).
const (
	maxJSONDepth  = 32
	maxJSONString = 256 << 10 // bytes, as sent (escapes included)
)

// decodeJSON reads the request body as exactly one JSON object into dst, a
// pointer to a struct. It is strict: the keys must be dst's JSON field
// names, spelled exactly and each at most once; values must have the field's
// type; nothing but white space may follow the object. Every failure is an
// EINVALID error, or ETOOLARGE when the body exceeds the server limit.
func decodeJSON(c echo.Context, dst any) error {
	body, err := readBody(c.Request())
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return invalid(nil, "The request body is empty; a JSON object is expected.")
	}
	return decodeBody(c.Request(), body, dst)
}

// decodeOptionalJSON is decodeJSON for requests whose body may be left
// out: an absent or blank body leaves dst untouched and is no error.
func decodeOptionalJSON(c echo.Context, dst any) error {
	body, err := readBody(c.Request())
	if err != nil || len(body) == 0 {
		return err
	}
	return decodeBody(c.Request(), body, dst)
}

// readBody reads the whole request body; white space only reads as empty.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(mbe.Limit)
		}
		return nil, invalid(nil, "The request body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	return body, nil
}

// decodeBody checks the Content-Type of r and decodes the non-empty body
// strictly into dst (see decodeJSON).
func decodeBody(r *http.Request, body []byte, dst any) error {
	if ct := r.Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != echo.MIMEApplicationJSON {
			return invalid(nil, "Content-Type must be application/json.")
		}
	}
	if err := checkJSONLimits(body); err != nil {
		return err
	}
	if err := checkObjectKeys(body, jsonFields(reflect.TypeOf(dst).Elem())); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	return nil
}

// checkJSONLimits refuses a body nested deeper than maxJSONDepth or with a
// string longer than maxJSONString, in one pass over the bytes (whether
// the body is valid JSON is for the decoder to say).
func checkJSONLimits(body []byte) error {
	depth, inString, escaped, start := 0, false, false, 0
	for i, b := range body {
		if inString {
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
				if i-start > maxJSONString {
					return invalid(map[string]any{"offset": start, "max_string_bytes": maxJSONString},
						"A JSON string at offset %d is longer than %d bytes.", start, maxJSONString)
				}
			}
			continue
		}
		switch b {
		case '"':
			inString, start = true, i
		case '{', '[':
			if depth++; depth > maxJSONDepth {
				return invalid(map[string]any{"offset": i, "max_depth": maxJSONDepth},
					"The JSON body is nested deeper than %d levels.", maxJSONDepth)
			}
		case '}', ']':
			depth--
		}
	}
	if inString && len(body)-start > maxJSONString {
		return invalid(map[string]any{"offset": start, "max_string_bytes": maxJSONString},
			"A JSON string at offset %d is longer than %d bytes.", start, maxJSONString)
	}
	return nil
}

// checkObjectKeys walks the top level of body: one object whose keys are in
// allowed and not repeated, then end of input.
func checkObjectKeys(body []byte, allowed map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return decodeError(err)
	}
	if tok != json.Delim('{') {
		return invalid(nil, "The request body must be a JSON object.")
	}
	seen := map[string]bool{}
	var unknown []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return decodeError(err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return invalid(map[string]any{"field": key}, "Field %q appears more than once.", key)
		}
		seen[key] = true
		if !allowed[key] && len(unknown) < maxListedFields {
			unknown = append(unknown, key)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return decodeError(err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid(map[string]any{"offset": dec.InputOffset()},
			"Unexpected data after the JSON object at offset %d.", dec.InputOffset())
	}
	if len(unknown) > 0 {
		return invalid(map[string]any{"unknown_fields": unknown},
			"Unknown field(s): %s.", strings.Join(unknown, ", "))
	}
	return nil
}

// decodeError turns an encoding/json error into an EINVALID error.
func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return invalid(map[string]any{"offset": syn.Offset}, "Malformed JSON at offset %d: %s.", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return invalid(map[string]any{"field": field, "expected": jsonKind(typ.Type), "got": typ.Value},
			"Field %q must be %s, not %s.", field, jsonKind(typ.Type), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return invalid(nil, "Malformed JSON: unexpected end of input.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalid(nil, "Unknown field: %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return invalid(nil, "Malformed JSON: %s.", err.Error())
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return fmt.Sprintf("a %s", t.Kind())
}

var fieldCache sync.Map // reflect.Type → map[string]bool

// jsonFields returns the JSON names of the exported fields of struct t.
func jsonFields(t reflect.Type) map[string]bool {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]bool)
	}
	m := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		m[name] = true
	}
	fieldCache.Store(t, m)
	return m
}

// isJSONObject reports whether raw holds a JSON object.
func isJSONObject(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{'
}

// isJSONNull reports whether raw is absent or the literal null.
func isJSONNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// canonicalJSON re-encodes raw with sorted object keys and no insignificant
// white space; numbers keep their text. Absent or null gives nil.
func canonicalJSON(raw json.RawMessage) (json.RawMessage, error) {
	if isJSONNull(raw) {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
