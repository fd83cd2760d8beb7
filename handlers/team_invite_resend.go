package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
)

// TeamInviteResend replaces a member's invitation link; the old one stops
// working (POST /team/:id/invite/resend).
func (h *Handler) TeamInviteResend(c *fiber.Ctx) error {
	m, err := h.memberParam(c)
	if err != nil {
		return err
	}
	issued, err := h.DB.ResendInvitation(c.UserContext(), current.Origin(c), m.ID)
	if err != nil {
		return h.teamActionDone(c, m, err, "")
	}
	return h.showInvitationLink(c, http.StatusOK, issued, "New invitation link; the previous one no longer works")
}
