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

// WebhookUpdate changes an endpoint's URL, events or state (POST
// /webhooks/:id); invalid input comes back as 422 with the values kept.
func (h *Handler) WebhookUpdate(c *fiber.Ctx) error {
	e, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	values := webhookFormValues(c)
	err = h.checkWebhookInput(c.UserContext(), values)
	if err == nil {
		_, err = h.DB.UpdateWebhookEndpoint(c.UserContext(), current.Origin(c), e.ID, webhookInput(values))
	}
	if err != nil {
		var merr *models.Error
		if !errors.As(err, &merr) || len(merr.Fields) == 0 {
			return err
		}
		f := pages.WebhookFormView{Endpoint: &e.WebhookEndpoint, Values: values, Errors: merr.Fields, Message: merr.Message,
			CSRFToken: current.CSRFToken(c)}
		if current.IsHTMX(c) {
			return render.Fragment(c, http.StatusUnprocessableEntity, pages.WebhookForm(f))
		}
		v, err := h.webhookShowView(c, e)
		if err != nil {
			return err
		}
		v.Form = f
		return render.Page(c, http.StatusUnprocessableEntity, "Webhook "+strconv.FormatInt(e.ID, 10), pages.WebhookShow(v))
	}
	current.AddFlash(c, "Webhook endpoint saved.")
	return redirect(c, "/webhooks/"+strconv.FormatInt(e.ID, 10))
}
