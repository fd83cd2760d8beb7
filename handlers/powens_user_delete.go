package handlers

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
)

// PowensUserDelete is Powens' DELETE /2.0/users/{id|me}: the same
// removal as the portal's and /user/remove. 204, nothing in the body.
func (h *Handler) PowensUserDelete(c *fiber.Ctx) error {
	u, err := h.powensUser(c)
	if err != nil {
		return err
	}
	if err := h.DB.RemoveEndUser(c.UserContext(), current.Origin(c), u.ID, u.ClientUserID); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusNoContent).Send(nil)
}
