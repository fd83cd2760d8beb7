package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
)

// WebhookDeliveryRetry makes a delivery due now (POST
// /webhooks/:id/deliveries/:delivery/retry); the worker sends it on its
// next round.
func (h *Handler) WebhookDeliveryRetry(c *fiber.Ctx) error {
	e, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	deliveryID, err := idParam(c, "delivery")
	if err != nil {
		return err
	}
	if err := h.DB.RetryDelivery(c.UserContext(), current.Origin(c), e.ID, deliveryID); err != nil {
		return err
	}
	current.AddFlash(c, "Delivery "+strconv.FormatInt(deliveryID, 10)+" will be retried within seconds.")
	return redirect(c, "/webhooks/"+strconv.FormatInt(e.ID, 10)+"/deliveries")
}
