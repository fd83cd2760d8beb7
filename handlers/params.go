package handlers

import (
	"encoding/hex"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/models"
)

// idParam is the route parameter name as a record id: a positive decimal
// number in its own spelling, so "+7", "07" and "7.0" name nothing and a
// record has one address. Anything else is 404.
func idParam(c *fiber.Ctx, name string) (int64, error) {
	id, ok := parseID(c.Params(name))
	if !ok {
		return 0, fiber.ErrNotFound
	}
	return id, nil
}

// parseID reads a positive id written the way strconv writes it.
func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != s {
		return 0, false
	}
	return id, true
}

// endUserID is the :id route parameter, a user's id.
func endUserID(c *fiber.Ctx) (int64, error) {
	return idParam(c, "id")
}

// endUserParam loads the user named by the :id route parameter.
func (h *Handler) endUserParam(c *fiber.Ctx) (*models.EndUser, error) {
	id, err := endUserID(c)
	if err != nil {
		return nil, err
	}
	return h.DB.EndUserByID(c.UserContext(), id)
}

// memberParam loads the team member named by the :id route parameter.
func (h *Handler) memberParam(c *fiber.Ctx) (*models.TeamMember, error) {
	id := c.Params("id")
	if _, err := hex.DecodeString(id); err != nil || len(id) != 24 {
		return nil, fiber.ErrNotFound
	}
	return h.DB.MemberByID(c.UserContext(), id)
}

// webhookParam loads the endpoint named by the :id route parameter.
func (h *Handler) webhookParam(c *fiber.Ctx) (*models.WebhookEndpointSummary, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	return h.DB.WebhookEndpointSummaryByID(c.UserContext(), id)
}

// apiKeyParam loads the key named by the :id route parameter.
func (h *Handler) apiKeyParam(c *fiber.Ctx) (*models.APIKey, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	return h.DB.APIKeyByID(c.UserContext(), id)
}
