package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/views/pages"
)

// AccountShow renders the member's account page (GET /account).
func (h *Handler) AccountShow(c *fiber.Ctx) error {
	return render.Page(c, http.StatusOK, "Your account", pages.Account(accountView(c)))
}

// accountView is the account page with its forms as they stand.
func accountView(c *fiber.Ctx) pages.AccountView {
	m := current.Member(c)
	token := current.CSRFToken(c)
	return pages.AccountView{
		Email: m.EmailAddress, Role: m.Role,
		Password: pages.PasswordForm{CSRFToken: token},
		TimeZone: pages.TimeZoneForm{CSRFToken: token, Value: m.TimeZone, Browser: current.BrowserZone(c)},
	}
}
