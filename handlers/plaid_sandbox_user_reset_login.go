package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/apijson"
	"ledgerdesk/handlers/current"
)

// PlaidSandboxUserResetLogin is Plaid's POST /sandbox/user/reset_login: the
// user's items (all, or those item_ids names) go into ITEM_LOGIN_REQUIRED.
func (h *Handler) PlaidSandboxUserResetLogin(c *fiber.Ctx) error {
	body := apijson.BodyOf(c)
	itemIDs := body.Keys("item_ids", false)
	u, err := h.plaidUser(c, body)
	if err != nil {
		return err
	}
	if itemIDs != nil && len(itemIDs) == 0 {
		return apijson.InvalidField("item_ids", "must name at least one item, or be left out to reset them all")
	}
	if _, err := h.DB.ResetLoginItems(c.UserContext(), current.Origin(c), u.ID, itemIDs); err != nil {
		return err
	}
	return apijson.Send(c, http.StatusOK, apijson.RequestIDResponse{RequestID: current.RequestID(c)})
}
