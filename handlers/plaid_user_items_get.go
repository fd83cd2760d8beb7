package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/apijson"
	"ledgerdesk/handlers/current"
)

// PlaidUserItemsGet is Plaid's POST /user/items/get: the user's items with
// their status.
func (h *Handler) PlaidUserItemsGet(c *fiber.Ctx) error {
	body := apijson.BodyOf(c)
	u, err := h.plaidUser(c, body)
	if err != nil {
		return err
	}
	items, err := h.DB.ItemsOfUser(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	out := apijson.UserItemsGetResponse{Items: make([]apijson.Item, len(items)), RequestID: current.RequestID(c)}
	for i := range items {
		out.Items[i] = apijson.NewItem(&items[i])
	}
	return apijson.Send(c, http.StatusOK, out)
}
