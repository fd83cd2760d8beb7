package apijson

import (
	"errors"
	"fmt"
	"net/http"

	"ledgerdesk/models"
)

// PowensError is the error body of the Powens-style endpoints: a stable
// code, a message for developers, and the request id to quote.
type PowensError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
	status    int
}

func (e *PowensError) Error() string { return e.Code + ": " + e.Message }

// HTTPStatus is the status the error is sent with.
func (e *PowensError) HTTPStatus() int { return e.status }

func powensError(status int, code, msg string) *PowensError {
	return &PowensError{Code: code, Message: msg, status: status}
}

// Powens-style errors.
var (
	PowensUnauthorized = func() *PowensError {
		return powensError(http.StatusUnauthorized, "invalidToken", "a valid Bearer token is required: an API key secret, or the user's own user_token")
	}
	PowensForbidden = func(msg string) *PowensError { return powensError(http.StatusForbidden, "forbidden", msg) }
	PowensNotFound  = func() *PowensError {
		return powensError(http.StatusNotFound, "userNotFound", "no such user, or the user was removed")
	}
	PowensInvalid     = func(msg string) *PowensError { return powensError(http.StatusBadRequest, "invalidValue", msg) }
	PowensRateLimited = func(perMinute int, retryAfter string) *PowensError {
		return powensError(http.StatusTooManyRequests, "tooManyRequests",
			fmt.Sprintf("more than %d requests in a minute; retry after %s seconds (the Retry-After header)", perMinute, retryAfter))
	}
)

// PowensFromError is the Powens error an error from a handler stands for.
func PowensFromError(err error, status int) *PowensError {
	var perr *PowensError
	var merr *models.Error
	switch {
	case errors.As(err, &perr):
		return perr
	case models.IsUnavailable(err):
		return powensError(http.StatusServiceUnavailable, "unavailable", "Ledgerdesk cannot reach its database right now; retry shortly")
	case errors.As(err, &merr) && (merr.Kind == models.KindNotFound || merr.Kind == models.KindConflict):
		return PowensNotFound()
	}
	switch status {
	case http.StatusNotFound:
		return powensError(status, "notFound", "not found")
	case http.StatusMethodNotAllowed:
		return powensError(status, "methodNotAllowed", "this endpoint does not accept this method")
	case http.StatusRequestEntityTooLarge:
		return powensError(status, "requestTooLarge", "the request body exceeds the limit of 1 MiB")
	case http.StatusRequestHeaderFieldsTooLarge:
		return powensError(status, "headersTooLarge", "the request headers exceed the limit of 16 KiB")
	case http.StatusRequestTimeout:
		return powensError(status, "requestTimeout", "the request was not received in time")
	case http.StatusBadRequest:
		return powensError(status, "invalidRequest", "the request could not be read: its headers, its length or its chunked body are malformed")
	}
	return powensError(http.StatusInternalServerError, "internalError", "an unexpected error occurred; it was logged with this request_id")
}
