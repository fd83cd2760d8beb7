package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// APIKeyList lists the API keys with their last use, and the create form
// (GET /api-keys).
func (h *Handler) APIKeyList(c *fiber.Ctx) error {
	v, err := h.apiKeysView(c)
	if err != nil {
		return err
	}
	v.Form.Scope = "read"
	return render.Page(c, http.StatusOK, "API keys", pages.APIKeys(*v))
}

func (h *Handler) apiKeysView(c *fiber.Ctx) (*pages.APIKeysView, error) {
	page, err := h.DB.ListAPIKeys(c.UserContext(), c.Query("cursor"))
	if err != nil {
		return nil, err
	}
	v := &pages.APIKeysView{Keys: page.Keys, CSRFToken: current.CSRFToken(c), Zone: current.Location(c)}
	if v.ApprovalsRequired, err = h.approvalsRequired(c.UserContext()); err != nil {
		return nil, err
	}
	// Keys asked for and not made yet (made ones are on their own page).
	if v.Approvals, err = h.targetApprovals(c.UserContext(), current.Member(c), models.Target{Type: "api_key"}); err != nil {
		return nil, err
	}
	v.NextURL, v.PrevURL = pageURL("/api-keys", nil, page.Next), pageURL("/api-keys", nil, page.Prev)
	return v, nil
}
