package handlers

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
)

// AccountSessionsEndOthers ends every session of the member but this one
// (POST /account/sessions/end-others).
func (h *Handler) AccountSessionsEndOthers(c *fiber.Ctx) error {
	me := current.Member(c)
	n, err := h.DB.EndOtherSessions(c.UserContext(), current.Origin(c), me.ID, current.SessionRow(c).IDHash)
	if err != nil {
		return err
	}
	current.AddFlash(c, fmt.Sprintf("%d other session%s ended.", n, plural(n)))
	return redirect(c, "/account/sessions")
}
