package handlers

import (
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// WebhookShow is an endpoint's page (GET /webhooks/:id): its settings to
// edit, its delivery counts, its signing secret's rotation, and delete.
func (h *Handler) WebhookShow(c *fiber.Ctx) error {
	e, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	v, err := h.webhookShowView(c, e)
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "Webhook "+strconv.FormatInt(e.ID, 10), pages.WebhookShow(v))
}

// webhookShowView is an endpoint's page as stored.
func (h *Handler) webhookShowView(c *fiber.Ctx, e *models.WebhookEndpointSummary) (pages.WebhookShowView, error) {
	token := current.CSRFToken(c)
	v := pages.WebhookShowView{Endpoint: e, CSRFToken: token, Zone: current.Location(c),
		Form: pages.WebhookFormView{Endpoint: &e.WebhookEndpoint, CSRFToken: token,
			Values: pages.WebhookFormValues{URL: e.URL, Events: e.Events, Enabled: e.Enabled}},
		Secret: pages.WebhookSecretView{EndpointID: e.ID, EndpointURL: e.URL, CSRFToken: token, Zone: current.Location(c)}}
	if until, ok := e.PreviousSecretSignsUntil(models.Now()); ok {
		v.Secret.PreviousUntil = until
	}
	var err error
	if v.ApprovalsRequired, err = h.approvalsRequired(c.UserContext()); err != nil {
		return v, err
	}
	v.Approvals, err = h.targetApprovals(c.UserContext(), current.Member(c), e.AuditTarget())
	return v, err
}
