// Package apijson holds the JSON API's wire shapes: the seeds' request and
// response objects, Plaid's error object and Powens' error, and the body
// reader that names missing and invalid fields the way Plaid does.
package apijson

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"ledgerdesk/models"
)

// Plaid error types and codes the API answers with.
const (
	TypeInvalidRequest = "INVALID_REQUEST"
	TypeInvalidInput   = "INVALID_INPUT"
	TypeUserError      = "USER_ERROR"
	TypeAPIError       = "API_ERROR"
	TypeRateLimit      = "RATE_LIMIT_EXCEEDED"

	CodeInvalidBody       = "INVALID_BODY"
	CodeInvalidHeaders    = "INVALID_HEADERS"
	CodeMissingFields     = "MISSING_FIELDS"
	CodeInvalidField      = "INVALID_FIELD"
	CodeNotFound          = "NOT_FOUND"
	CodeMethodNotAllowed  = "METHOD_NOT_ALLOWED"
	CodeInvalidAPIKeys    = "INVALID_API_KEYS"
	CodeUnauthorizedRoute = "UNAUTHORIZED_ROUTE_ACCESS"
	CodeUserNotFound      = "USER_NOT_FOUND"
	CodeInternal          = "INTERNAL_SERVER_ERROR"
	CodePlannedOutage     = "PLANNED_MAINTENANCE"
	CodeRateLimit         = "RATE_LIMIT"
)

// PlaidError is Plaid's error object, with every field the seed lists.
// It is also a Go error: handlers return it and the app's error handler
// writes it with its HTTP status.
type PlaidError struct {
	ErrorType        string  `json:"error_type"`
	ErrorCode        string  `json:"error_code"`
	ErrorCodeReason  *string `json:"error_code_reason"`
	ErrorMessage     string  `json:"error_message"`
	DisplayMessage   *string `json:"display_message"`
	RequestID        string  `json:"request_id"`
	Causes           []any   `json:"causes"`
	Status           int     `json:"status"`
	DocumentationURL string  `json:"documentation_url"`
	SuggestedAction  *string `json:"suggested_action"`
}

func (e *PlaidError) Error() string { return e.ErrorType + "/" + e.ErrorCode + ": " + e.ErrorMessage }

func plaidError(status int, typ, code, msg string) *PlaidError {
	return &PlaidError{ErrorType: typ, ErrorCode: code, ErrorMessage: msg, Status: status, Causes: []any{},
		DocumentationURL: "https://plaid.com/docs/errors/" + strings.ToLower(strings.ReplaceAll(typ, "_", "-")) + "/#" + strings.ToLower(code)}
}

// InvalidBody is a body that is not a JSON object, or not sent as JSON.
func InvalidBody(msg string) *PlaidError {
	return plaidError(http.StatusBadRequest, TypeInvalidRequest, CodeInvalidBody, msg)
}

// BodyTooLarge is a body over the app's limit.
func BodyTooLarge() *PlaidError {
	return plaidError(http.StatusRequestEntityTooLarge, TypeInvalidRequest, CodeInvalidBody,
		"the request body exceeds the limit of 1 MiB; nothing was changed")
}

// HeadersTooLarge is a request whose headers exceed what the server reads.
func HeadersTooLarge() *PlaidError {
	return plaidError(http.StatusRequestHeaderFieldsTooLarge, TypeInvalidRequest, CodeInvalidHeaders,
		"the request headers exceed the limit of 16 KiB; nothing was changed")
}

// RequestTimeout is a request that was not received in time.
func RequestTimeout() *PlaidError {
	return plaidError(http.StatusRequestTimeout, TypeInvalidRequest, CodeInvalidBody,
		"the request was not received in time; nothing was changed")
}

// MissingFields names every required field the request lacks.
func MissingFields(names ...string) *PlaidError {
	sort.Strings(names)
	return plaidError(http.StatusBadRequest, TypeInvalidRequest, CodeMissingFields,
		"the following required fields are missing: "+strings.Join(names, ", "))
}

// InvalidField names the field whose value is refused, and why.
func InvalidField(name, why string) *PlaidError {
	return plaidError(http.StatusBadRequest, TypeInvalidRequest, CodeInvalidField,
		fmt.Sprintf("%s: %s", name, why))
}

// InvalidAPIKeys is any credential failure: unknown client_id, wrong
// secret, revoked key.
func InvalidAPIKeys() *PlaidError {
	return plaidError(http.StatusBadRequest, TypeInvalidInput, CodeInvalidAPIKeys,
		"invalid client_id or secret provided")
}

// ReadOnlyKey is a read-only key on an endpoint that changes data.
func ReadOnlyKey() *PlaidError {
	return plaidError(http.StatusBadRequest, TypeInvalidInput, CodeUnauthorizedRoute,
		"this API key is read-only: it may call /dashboard_user/get, /dashboard_user/list and /user/items/get only")
}

// UserNotFound is an unknown, or removed, user.
func UserNotFound() *PlaidError {
	return plaidError(http.StatusNotFound, TypeUserError, CodeUserNotFound,
		"the user does not exist or has been removed")
}

// RouteNotFound is a path the API does not serve.
func RouteNotFound() *PlaidError {
	return plaidError(http.StatusNotFound, TypeInvalidRequest, CodeNotFound, "not found")
}

// MethodNotAllowed is a known path asked with the wrong method.
func MethodNotAllowed(allowed string) *PlaidError {
	return plaidError(http.StatusMethodNotAllowed, TypeInvalidRequest, CodeMethodNotAllowed,
		"this endpoint only accepts "+allowed)
}

// Internal is a failure on Ledgerdesk's side; details stay in the log.
func Internal() *PlaidError {
	return plaidError(http.StatusInternalServerError, TypeAPIError, CodeInternal,
		"an unexpected error occurred; it was logged with this request_id")
}

// Unavailable is the database out of reach.
func Unavailable() *PlaidError {
	return plaidError(http.StatusServiceUnavailable, TypeAPIError, CodePlannedOutage,
		"Ledgerdesk cannot reach its database right now; retry shortly, nothing was changed")
}

// RateLimited is a key that sent more requests than its limit allows.
func RateLimited(perMinute int, retryAfter string) *PlaidError {
	return plaidError(http.StatusTooManyRequests, TypeRateLimit, CodeRateLimit,
		fmt.Sprintf("this API key sent more than %d requests in a minute; retry after %s seconds (the Retry-After header)", perMinute, retryAfter))
}

// identityPaths gives the request path of each field the models name.
var identityPaths = map[string]string{
	models.FieldFirstName:    "consumer_report_user_identity.first_name",
	models.FieldLastName:     "consumer_report_user_identity.last_name",
	models.FieldPhoneNumbers: "consumer_report_user_identity.phone_numbers",
	models.FieldEmails:       "consumer_report_user_identity.emails",
	models.FieldSSNFull:      "consumer_report_user_identity.ssn_full",
	models.FieldSSNLast4:     "consumer_report_user_identity.ssn_last_4",
	models.FieldDateOfBirth:  "consumer_report_user_identity.date_of_birth",
	models.FieldStreet:       "consumer_report_user_identity.primary_address.street",
	models.FieldCity:         "consumer_report_user_identity.primary_address.city",
	models.FieldRegion:       "consumer_report_user_identity.primary_address.region",
	models.FieldPostalCode:   "consumer_report_user_identity.primary_address.postal_code",
	models.FieldCountry:      "consumer_report_user_identity.primary_address.country",
}

// fieldOrder is the order fields are reported in: the request's own.
var fieldOrder = []string{models.FieldClientUserID, models.FieldFirstName, models.FieldLastName,
	models.FieldPhoneNumbers, models.FieldEmails, models.FieldSSNFull, models.FieldSSNLast4,
	models.FieldDateOfBirth, models.FieldStreet, models.FieldCity, models.FieldRegion,
	models.FieldPostalCode, models.FieldCountry}

// FieldPath is the request path of a field a model error names.
func FieldPath(field string) string {
	if p, ok := identityPaths[field]; ok {
		return p
	}
	return field
}

// FromModelFields turns a model's field errors into INVALID_FIELD naming
// the first field, in request order.
func FromModelFields(f models.FieldErrors) *PlaidError {
	for _, name := range fieldOrder {
		if msg, ok := f[name]; ok {
			return InvalidField(FieldPath(name), msg)
		}
	}
	names := make([]string, 0, len(f))
	for name := range f {
		names = append(names, name)
	}
	sort.Strings(names)
	return InvalidField(FieldPath(names[0]), f[names[0]])
}

// PlaidFromError is the Plaid error an error from a handler stands for.
func PlaidFromError(err error) *PlaidError {
	var perr *PlaidError
	var merr *models.Error
	switch {
	case errors.As(err, &perr):
		return perr
	case models.IsUnavailable(err):
		return Unavailable()
	case errors.As(err, &merr) && len(merr.Fields) > 0:
		return FromModelFields(merr.Fields)
	case errors.As(err, &merr) && (merr.Kind == models.KindNotFound || merr.Kind == models.KindConflict):
		// A conflict without fields is a user removed while the request
		// ran: to the caller, it no longer exists.
		return UserNotFound()
	case errors.As(err, &merr) && merr.Kind == models.KindUnauthorized:
		return InvalidAPIKeys()
	}
	return Internal()
}
