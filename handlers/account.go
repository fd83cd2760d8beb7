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
	v, err := h.accountView(c)
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "Your account", pages.Account(v))
}

// accountView is the account page with its forms as they stand.
func (h *Handler) accountView(c *fiber.Ctx) (pages.AccountView, error) {
	m := current.Member(c)
	token := current.CSRFToken(c)
	keys, err := h.passkeysView(c)
	return pages.AccountView{
		Email: m.EmailAddress, Role: m.Role,
		Password: pages.PasswordForm{CSRFToken: token},
		TimeZone: pages.TimeZoneForm{CSRFToken: token, Value: m.TimeZone, Browser: current.BrowserZone(c)},
		Passkeys: keys,
	}, err
}
