package handlers

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
)

// WebhookDelete deletes an endpoint and its deliveries (POST
// /webhooks/:id/delete).
func (h *Handler) WebhookDelete(c *fiber.Ctx) error {
	e, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	if err := h.DB.DeleteWebhookEndpoint(c.UserContext(), current.Origin(c), e.ID); err != nil {
		return err
	}
	current.AddFlash(c, "Webhook endpoint deleted.")
	return redirect(c, "/webhooks")
}
