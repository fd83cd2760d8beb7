package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/render"
	"ledgerdesk/views/pages"
)

// APIPage is the portal's API page (GET /api): base URL, keys, examples.
func (h *Handler) APIPage(c *fiber.Ctx) error {
	n, err := h.DB.CountActiveAPIKeys(c.UserContext())
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "API", pages.APIDocs(pages.APIDocsView{BaseURL: c.BaseURL(), ActiveKeys: int(n)}))
}
