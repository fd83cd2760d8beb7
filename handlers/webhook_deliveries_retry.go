package handlers

import (
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// WebhookDeliveryRetry makes a failing or given-up delivery due now (POST
// /webhooks/:id/deliveries/:delivery/retry); the worker sends it on its
// next round. It goes back to the deliveries page, in the state the form
// was sent from.
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
	msg := "Delivery " + strconv.FormatInt(deliveryID, 10) + " will be retried within seconds."
	if !e.Enabled {
		msg = "Delivery " + strconv.FormatInt(deliveryID, 10) + " will be retried once the endpoint is enabled again."
	}
	current.AddFlash(c, msg)
	back := "/webhooks/" + strconv.FormatInt(e.ID, 10) + "/deliveries"
	// A state that is not one is dropped: the form only ever sends one.
	if state, ok := models.ParseDeliveryState(c.FormValue("state")); ok {
		back += "?" + url.Values{"state": {string(state)}}.Encode()
	}
	return redirect(c, back)
}
