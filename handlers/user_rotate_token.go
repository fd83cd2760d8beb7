package handlers

import (
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/views/pages"
)

// UserRotateToken issues a new user_token, shown once
// (POST /users/:id/rotate-token); the old one stops working.
func (h *Handler) UserRotateToken(c *fiber.Ctx) error {
	u, err := h.endUserParam(c)
	if err != nil {
		return err
	}
	token, err := h.DB.RotateUserToken(c.UserContext(), current.Origin(c), u.ID)
	if err != nil {
		return err
	}
	panel := pages.TokenPanel(u, token, "New user_token for user "+strconv.FormatInt(u.ID, 10))
	if current.IsHTMX(c) {
		return render.Fragment(c, http.StatusOK, panel)
	}
	return render.Page(c, http.StatusOK, "New user_token", panel)
}
