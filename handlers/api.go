package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/apijson"
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

// APIOpenAPI serves the OpenAPI 3 document of the JSON API
// (GET /api/openapi.json).
func (h *Handler) APIOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(apijson.OpenAPI)
}
