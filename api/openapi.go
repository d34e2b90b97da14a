package api

import (
	_ "embed" // the OpenAPI document
	"net/http"

	"github.com/labstack/echo/v4"
)

// openapiYAML is the OpenAPI 3 description of the whole API: every route,
// body, parameter, header and answer, with the schemas of what the
// handlers produce. openapi_test.go validates every request and answer of
// a tour of all routes against it, and that no route is left out.
//
//go:embed openapi.yaml
var openapiYAML []byte

// mimeYAML is the media type of the document (RFC 9512).
const mimeYAML = "application/yaml"

// handleOpenAPI serves the OpenAPI document, without authentication.
func (s *Server) handleOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, mimeYAML, openapiYAML)
}
