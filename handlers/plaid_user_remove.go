package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/apijson"
	"ledgerdesk/handlers/current"
)

// PlaidUserRemove is Plaid's POST /user/remove: the user's items are deleted
// and their identity erased; the tombstone keeps the client_user_id.
func (h *Handler) PlaidUserRemove(c *fiber.Ctx) error {
	body := apijson.BodyOf(c)
	u, err := h.plaidUser(c, body)
	if err != nil {
		return err
	}
	if err := h.DB.RemoveEndUser(c.UserContext(), current.Origin(c), u.ID, u.ClientUserID); err != nil {
		return err
	}
	return apijson.Send(c, http.StatusOK, apijson.RequestIDResponse{RequestID: current.RequestID(c)})
}
