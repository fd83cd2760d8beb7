package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// WebhookDelete deletes an endpoint and its deliveries (POST
// /webhooks/:id/delete).
func (h *Handler) WebhookDelete(c *fiber.Ctx) error {
	e, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	if on, err := h.approvalsRequired(c.UserContext()); err != nil {
		return err
	} else if on {
		id := strconv.FormatInt(e.ID, 10)
		return h.requestApproval(c, approvalAsk{in: models.ApprovalInput{Action: models.ApproveWebhookDelete, TargetID: id},
			page: pages.ApprovalFormView{Title: "Delete webhook endpoint", Action: "/webhooks/" + id + "/delete",
				Back: "/webhooks/" + id, Question: "Delete webhook endpoint " + id + "?"}})
	}
	if err := h.DB.DeleteWebhookEndpoint(c.UserContext(), current.Origin(c), e.ID); err != nil {
		return err
	}
	current.AddFlash(c, "Webhook endpoint deleted.")
	return redirect(c, "/webhooks")
}
