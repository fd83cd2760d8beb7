package handlers

import (
	"errors"

	"ledgerdesk/models"
)

// retryAfterBusy is the Retry-After, in seconds, of an answer refused
// because every password-hashing slot was taken.
const retryAfterBusy = "2"

func asModelError(err error, target **models.Error) bool { return errors.As(err, target) }

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}
