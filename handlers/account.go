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
	m := current.Member(c)
	return render.Page(c, http.StatusOK, "Your account", pages.Account(pages.AccountView{
		Email: m.EmailAddress, Role: m.Role,
		Password: pages.PasswordForm{CSRFToken: current.CSRFToken(c)},
	}))
}
