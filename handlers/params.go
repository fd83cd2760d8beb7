package handlers

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

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

// idParam is the route parameter name as a record id: a positive decimal
// number in its own spelling, so "+7", "07" and "7.0" name nothing and a
// record has one address. Anything else is 404.
func idParam(c *fiber.Ctx, name string) (int64, error) {
	id, ok := parseID(c.Params(name))
	if !ok {
		return 0, fiber.ErrNotFound
	}
	return id, nil
}

// parseID reads a positive id written the way strconv writes it.
func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != s {
		return 0, false
	}
	return id, true
}
