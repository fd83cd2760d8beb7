package handlers

import (
	"errors"

	"ledgerdesk/models"
)

func asModelError(err error, target **models.Error) bool { return errors.As(err, target) }

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}
