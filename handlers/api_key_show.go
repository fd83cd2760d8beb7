package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/views/pages"
)

// APIKeyShow is a key's page (GET /api-keys/:id): its details and the
// audit entries about it.
func (h *Handler) APIKeyShow(c *fiber.Ctx) error {
	k, err := h.apiKeyParam(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	access := h.fieldAccess(c)
	history, err := h.history(ctx, access, k.AuditTarget())
	if err != nil {
		return err
	}
	createdBy := k.CreatedBy
	if emails, err := h.DB.MemberEmails(ctx, []string{k.CreatedBy}); err != nil {
		return err
	} else if e, ok := emails[k.CreatedBy]; ok {
		createdBy = e
	}
	v := pages.APIKeyShowView{Key: k, CreatedBy: createdBy, History: history, CSRFToken: current.CSRFToken(c),
		Zone: current.Location(c)}
	return render.Page(c, http.StatusOK, "API key "+k.Name, pages.APIKeyShow(v))
}
