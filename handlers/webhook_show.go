package handlers

import (
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/render"
	"ledgerdesk/views/pages"
)

// WebhookShow is an endpoint's page (GET /webhooks/:id): its settings to
// edit, its delivery counts, its signing secret's rotation, and delete.
func (h *Handler) WebhookShow(c *fiber.Ctx) error {
	e, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "Webhook "+strconv.FormatInt(e.ID, 10), pages.WebhookShow(webhookShowView(c, e)))
}
