package handlers

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
)

// TeamSessionEnd ends a session of any member, from the member's page
// (POST /team/:id/sessions/:session/end).
func (h *Handler) TeamSessionEnd(c *fiber.Ctx) error {
	m, err := h.memberParam(c)
	if err != nil {
		return err
	}
	msg, err := h.endSession(c, m.ID)
	if err != nil {
		return err
	}
	current.AddFlash(c, msg)
	return redirect(c, "/team/"+m.ID)
}
