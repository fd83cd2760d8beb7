package handlers

import (
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/views/pages"
)

// WebhookRotateSecret issues a new signing secret, shown once (POST
// /webhooks/:id/rotate-secret); the replaced one keeps signing beside it
// for models.SecretOverlap. htmx gets the updated secret section, a plain
// form the endpoint's page with the secret in it.
func (h *Handler) WebhookRotateSecret(c *fiber.Ctx) error {
	e, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	rotated, err := h.DB.RotateWebhookSecret(c.UserContext(), current.Origin(c), e.ID)
	if err != nil {
		return err
	}
	e.WebhookEndpoint = *rotated.Endpoint
	v, err := h.webhookShowView(c, e)
	if err != nil {
		return err
	}
	v.Secret.NewSecret = rotated.Secret
	if current.IsHTMX(c) {
		return render.Fragment(c, http.StatusOK, pages.WebhookSecretSection(v.Secret))
	}
	return render.Page(c, http.StatusOK, "Webhook "+strconv.FormatInt(e.ID, 10), pages.WebhookShow(v))
}
