package handlers

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
)

// TeamInviteRevoke withdraws an invitation (POST /team/:id/invite/revoke).
func (h *Handler) TeamInviteRevoke(c *fiber.Ctx) error {
	m, err := h.memberParam(c)
	if err != nil {
		return err
	}
	err = h.DB.RevokeInvitation(c.UserContext(), current.Origin(c), m.ID)
	return h.teamActionDone(c, m, err, "The invitation of "+m.EmailAddress+" was revoked; the link no longer works.")
}
