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

// stayOn keeps the address bar on the page whose form htmx sent when the
// answer refuses it (409, 422) and shows that page's form again: a reload
// then shows the page instead of landing on, or resending, the POST
// address.
func stayOn(c *fiber.Ctx, page string) {
	if current.IsHTMX(c) {
		c.Set("HX-Replace-Url", page)
	}
}
