package handlers

import (
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
)

// APIKeyRevoke revokes a key at once (POST /api-keys/:id/revoke) and goes
// back to its page.
func (h *Handler) APIKeyRevoke(c *fiber.Ctx) error {
	k, err := h.apiKeyParam(c)
	if err != nil {
		return err
	}
	if _, err := h.DB.RevokeAPIKey(c.UserContext(), current.Origin(c), k.ID); err != nil {
		return err
	}
	current.AddFlash(c, "API key “"+k.Name+"” was revoked: calls made with it now fail.")
	target := "/api-keys/" + strconv.FormatInt(k.ID, 10)
	if current.IsHTMX(c) {
		c.Set("HX-Redirect", target)
		return c.SendStatus(http.StatusNoContent)
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}
