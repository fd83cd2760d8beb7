package handlers

import (
	"context"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// webhookFormValues reads the endpoint form as sent (copied: the values
// outlive fasthttp's buffers).
func webhookFormValues(c *fiber.Ctx) pages.WebhookFormValues {
	v := pages.WebhookFormValues{
		URL:     utils.CopyString(c.FormValue(models.FieldWebhookURL)),
		Enabled: c.FormValue("enabled") != "",
	}
	for _, b := range c.Request().PostArgs().PeekMulti(models.FieldWebhookEvents) {
		v.Events = append(v.Events, string(b))
	}
	return v
}

// webhookInput is the form as the model takes it.
func webhookInput(v pages.WebhookFormValues) models.WebhookEndpointInput {
	return models.WebhookEndpointInput{URL: v.URL, Events: v.Events, Enabled: v.Enabled}
}

// checkWebhookInput validates the form, including whether the URL's host
// is an address webhooks may reach (which needs the network, so it is
// asked of the guard here rather than in the model).
func (h *Handler) checkWebhookInput(ctx context.Context, v pages.WebhookFormValues) error {
	in := webhookInput(v)
	in.Normalize()
	fields := models.FieldErrors{}
	in.Validate(fields)
	if fields[models.FieldWebhookURL] == "" {
		if problem := h.Webhooks.CheckURL(ctx, in.URL); problem != "" {
			fields.Add(models.FieldWebhookURL, problem)
		}
	}
	return fields.Err()
}
