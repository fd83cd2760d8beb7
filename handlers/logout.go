package handlers

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
)

// Logout ends the session: the row is deleted, the cookie expired, and the
// sign-out audited (POST /logout).
func (h *Handler) Logout(c *fiber.Ctx) error {
	m := current.Member(c)
	row := current.SessionRow(c)
	if err := h.DB.SignOut(c.UserContext(), current.Origin(c), m.ID, row.IDHash); err != nil {
		return err
	}
	if err := h.Sessions.Expire(c); err != nil {
		return err
	}
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", "/login?signed_out=1")
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect("/login?signed_out=1", fiber.StatusSeeOther)
}
