package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/apijson"
	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// PlaidUserCreate is Plaid's POST /user/create. The user_token is in this
// answer only; a client_user_id ever used before, by a removed user too,
// is refused.
func (h *Handler) PlaidUserCreate(c *fiber.Ctx) error {
	body := apijson.BodyOf(c)
	in := models.EndUserInput{
		ClientUserID: body.String("client_user_id", true),
		Identity:     apijson.Identity(body.Object("consumer_report_user_identity", false)),
	}
	if err := body.Err(); err != nil {
		return err
	}
	created, err := h.DB.CreateEndUser(c.UserContext(), current.Origin(c), in)
	if err != nil {
		return err
	}
	return apijson.Send(c, http.StatusOK, apijson.UserCreateResponse{
		UserToken: created.UserToken, UserID: created.User.UserID, RequestID: current.RequestID(c)})
}
