package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// WebhookNew shows the create form (GET /webhooks/new).
func (h *Handler) WebhookNew(c *fiber.Ctx) error {
	f := pages.WebhookFormView{Values: pages.WebhookFormValues{Events: models.WebhookEventTypes, Enabled: true},
		CSRFToken: current.CSRFToken(c)}
	return render.Page(c, http.StatusOK, "New webhook endpoint", pages.WebhookNewPage(f))
}

// WebhookCreate saves an endpoint (POST /webhooks) and shows its signing
// secret once. Invalid input, a private destination included, comes back
// as 422 with the message beside its field and the values kept.
func (h *Handler) WebhookCreate(c *fiber.Ctx) error {
	values := webhookFormValues(c)
	err := h.checkWebhookInput(c.UserContext(), values)
	var created *models.CreatedWebhook
	if err == nil {
		created, err = h.DB.CreateWebhookEndpoint(c.UserContext(), current.Origin(c), webhookInput(values))
	}
	if err != nil {
		var merr *models.Error
		if !errors.As(err, &merr) || len(merr.Fields) == 0 {
			return err
		}
		f := pages.WebhookFormView{Values: values, Errors: merr.Fields, Message: merr.Message, CSRFToken: current.CSRFToken(c)}
		stayOn(c, "/webhooks/new")
		if current.IsHTMX(c) {
			return render.Fragment(c, http.StatusUnprocessableEntity, pages.WebhookForm(f))
		}
		return render.Page(c, http.StatusUnprocessableEntity, "New webhook endpoint", pages.WebhookNewPage(f))
	}
	e := created.Endpoint
	if current.IsHTMX(c) {
		// Reloading the endpoint's address shows it without the secret.
		c.Set("HX-Push-Url", "/webhooks/"+strconv.FormatInt(e.ID, 10))
		return render.Fragment(c, http.StatusCreated, pages.WebhookSecretPanel(e, created.Secret))
	}
	return render.Page(c, http.StatusCreated, "Webhook endpoint created", pages.WebhookCreatedPage(e, created.Secret))
}
