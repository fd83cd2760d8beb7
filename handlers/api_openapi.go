package handlers

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/apijson"
)

// APIOpenAPI serves the OpenAPI 3 document of the JSON API
// (GET /api/openapi.json).
func (h *Handler) APIOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(apijson.OpenAPI)
}
