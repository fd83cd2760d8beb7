package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
)

// redirect sends the browser on after a successful form: HX-Redirect for
// htmx (a 3xx would be followed inside the swap), 303 otherwise.
func redirect(c *fiber.Ctx, to string) error {
	if current.IsHTMX(c) {
		c.Set("HX-Redirect", to)
		return c.SendStatus(http.StatusNoContent)
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}
