package handlers

import (
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// WebhookDeliveries lists an endpoint's attempts, newest first, a page at
// a time by cursor (GET /webhooks/:id/deliveries).
func (h *Handler) WebhookDeliveries(c *fiber.Ctx) error {
	e, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	cursor := utils.CopyString(c.Query("cursor"))
	page, err := h.DB.WebhookAttempts(c.UserContext(), e.ID, cursor, models.AttemptPageSize)
	if err != nil {
		return err
	}
	base := "/webhooks/" + strconv.FormatInt(e.ID, 10) + "/deliveries"
	v := pages.WebhookDeliveriesView{Endpoint: e, Page: page, CSRFToken: current.CSRFToken(c)}
	v.NextURL, v.PrevURL = pageURL(base, nil, page.Next), pageURL(base, nil, page.Prev)
	return render.Page(c, http.StatusOK, "Deliveries", pages.WebhookDeliveries(v))
}
