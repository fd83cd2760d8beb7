package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
)

// WebhookTestEvent queues a WEBHOOK_TEST event for one endpoint (POST
// /webhooks/:id/test-event): the worker signs and sends it like any other,
// and it is listed on the endpoint's deliveries page.
func (h *Handler) WebhookTestEvent(c *fiber.Ctx) error {
	e, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	eventID, err := h.DB.SendWebhookTestEvent(c.UserContext(), current.Origin(c), e.ID)
	if err != nil {
		return err
	}
	path := "/webhooks/" + strconv.FormatInt(e.ID, 10)
	current.AddFlashLink(c, "Test event "+eventID+" was queued for this endpoint; it is sent within seconds.",
		path+"/deliveries", "See its delivery")
	return redirect(c, path)
}
