package handlers

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
)

// TeamReactivate lets a deactivated member sign in again
// (POST /team/:id/reactivate).
func (h *Handler) TeamReactivate(c *fiber.Ctx) error {
	m, err := h.memberParam(c)
	if err != nil {
		return err
	}
	err = h.DB.ReactivateMember(c.UserContext(), current.Origin(c), m.ID)
	return h.teamActionDone(c, m, err, m.EmailAddress+" was reactivated and can sign in again.")
}
