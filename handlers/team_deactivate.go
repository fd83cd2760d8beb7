package handlers

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
)

// TeamDeactivate deactivates a member and ends all their sessions at once
// (POST /team/:id/deactivate): their next request lands on the login page.
func (h *Handler) TeamDeactivate(c *fiber.Ctx) error {
	m, err := h.memberParam(c)
	if err != nil {
		return err
	}
	ended, err := h.DB.DeactivateMember(c.UserContext(), current.Origin(c), m.ID)
	return h.teamActionDone(c, m, err, fmt.Sprintf("%s was deactivated; %d session%s ended.", m.EmailAddress, ended, plural(ended)))
}
