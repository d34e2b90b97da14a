package graphsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Graph error codes the simulator answers with.
const (
	codeBadRequest             = "BadRequest"
	codeRequestBadRequest      = "Request_BadRequest"
	codeResourceNotFound       = "Request_ResourceNotFound"
	codeAuthorizationDenied    = "Authorization_RequestDenied"
	codeInvalidAuthToken       = "InvalidAuthenticationToken"
	codeTooManyRequests        = "TooManyRequests"
	codeNotImplemented         = "NotImplemented"
	codeRequestEntityTooLarge  = "RequestEntityTooLarge"
	codeServiceUnavailable     = "serviceNotAvailable"
	codeInternalServerError    = "Service_InternalServerError"
	codeGatewayTimeout         = "UnknownError"
	codeBadGateway             = "UnknownError"
	codeConflict               = "Directory_ConcurrencyViolation"
	msgInsufficientPrivileges  = "Insufficient privileges to complete the operation."
	msgOnPremisesMastered      = "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration."
	msgUnreadablePayload       = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."
	msgAccessTokenEmpty        = "Access token is empty."
	msgAccessTokenInvalid      = "Access token validation failure."
	msgAccessTokenExpired      = "Access token has expired or is not yet valid."
	wwwAuthenticateGraphBearer = `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`
)

// apiError is a Graph error answer.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) Error() string { return strconv.Itoa(e.status) + " " + e.code + ": " + e.message }

func notFound(id string) *apiError {
	return &apiError{http.StatusNotFound, codeResourceNotFound,
		"Resource '" + id + "' does not exist or one of its queried reference-property objects are not present."}
}

func segmentNotFound(seg string) *apiError {
	return &apiError{http.StatusBadRequest, codeBadRequest, "Resource not found for the segment '" + seg + "'."}
}

// defaultError returns the code and message Graph typically sends with
// status, for faults that leave them empty.
func defaultError(status int) (code, message string) {
	switch status {
	case http.StatusBadRequest:
		return codeBadRequest, "Bad request."
	case http.StatusUnauthorized:
		return codeInvalidAuthToken, msgAccessTokenInvalid
	case http.StatusForbidden:
		return codeAuthorizationDenied, msgInsufficientPrivileges
	case http.StatusNotFound:
		return codeResourceNotFound, "Resource does not exist or one of its queried reference-property objects are not present."
	case http.StatusConflict:
		return codeConflict, "Another concurrent operation is in progress on this object."
	case http.StatusTooManyRequests:
		return codeTooManyRequests, "Too many requests."
	case http.StatusInternalServerError:
		return codeInternalServerError, "Encountered an internal server error."
	case http.StatusBadGateway:
		return codeBadGateway, "Bad gateway."
	case http.StatusServiceUnavailable:
		return codeServiceUnavailable, "The service is temporarily unavailable. Please try again later."
	case http.StatusGatewayTimeout:
		return codeGatewayTimeout, "The operation has timed out."
	}
	return "UnknownError", http.StatusText(status)
}

type graphErrorBody struct {
	Error graphErrorDetail `json:"error"`
}

type graphErrorDetail struct {
	Code       string          `json:"code"`
	Message    string          `json:"message"`
	InnerError graphInnerError `json:"innerError"`
}

type graphInnerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// graphErrorJSON renders the Graph error envelope.
func graphErrorJSON(code, message, requestID, clientRequestID string) []byte {
	b, _ := json.Marshal(graphErrorBody{graphErrorDetail{code, message, graphInnerError{
		Date:            time.Now().UTC().Format("2006-01-02T15:04:05"),
		RequestID:       requestID,
		ClientRequestID: clientRequestID,
	}}})
	return b
}

// aadError is an Entra token endpoint error (AADSTS).
type aadError struct {
	status    int
	err       string // OAuth error, e.g. invalid_client
	aadsts    int    // AADSTS code
	statement string // text after "AADSTSnnn: "
}

type aadErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri,omitempty"`
}

// aadErrorJSON renders an Entra error body the way login.microsoftonline.com
// does: the description ends with trace id, correlation id and timestamp.
func aadErrorJSON(e *aadError, traceID, correlationID string) []byte {
	now := time.Now().UTC()
	desc := e.statement
	if e.aadsts != 0 {
		desc = "AADSTS" + strconv.Itoa(e.aadsts) + ": " + e.statement
	}
	desc += " Trace ID: " + traceID + " Correlation ID: " + correlationID +
		" Timestamp: " + now.Format("2006-01-02 15:04:05Z")
	body := aadErrorBody{
		Error:            e.err,
		ErrorDescription: desc,
		ErrorCodes:       []int{e.aadsts},
		Timestamp:        now.Format("2006-01-02 15:04:05Z"),
		TraceID:          traceID,
		CorrelationID:    correlationID,
	}
	if e.aadsts != 0 {
		body.ErrorURI = "https://login.microsoftonline.com/error?code=" + strconv.Itoa(e.aadsts)
	} else {
		body.ErrorCodes = []int{}
	}
	b, _ := json.Marshal(body)
	return b
}
