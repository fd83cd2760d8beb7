package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// WebhookList shows the webhook endpoints (GET /webhooks).
func (h *Handler) WebhookList(c *fiber.Ctx) error {
	endpoints, err := h.DB.WebhookEndpoints(c.UserContext())
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "Webhooks", pages.WebhookList(endpoints, models.Now(), current.Location(c)))
}
