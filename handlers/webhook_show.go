package handlers

import (
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/views/pages"
	"ledgerdesk/web/current"
	"ledgerdesk/web/render"
)

// WebhookShow is an endpoint's page (GET /webhooks/:id): its settings to
// edit, its delivery counts, and delete.
func (h *Handler) WebhookShow(c *fiber.Ctx) error {
	e, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	v := pages.WebhookShowView{Endpoint: e, CSRFToken: current.CSRFToken(c), Form: pages.WebhookFormView{
		Endpoint: &e.WebhookEndpoint, CSRFToken: current.CSRFToken(c),
		Values: pages.WebhookFormValues{URL: e.URL, Events: e.Events, Enabled: e.Enabled}}}
	return render.Page(c, http.StatusOK, "Webhook "+strconv.FormatInt(e.ID, 10), pages.WebhookShow(v))
}
