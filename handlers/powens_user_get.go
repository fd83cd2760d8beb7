package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/apijson"
	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// powensUser resolves /2.0/users/{id|me} for the caller: an API key may
// name any user by id; a user_token reaches only its own user, by id or
// as "me". Removed users are not found.
func (h *Handler) powensUser(c *fiber.Ctx) (*models.EndUser, error) {
	caller := current.APICaller(c)
	param := c.Params("id")
	if param == "me" {
		if caller.User == nil {
			return nil, apijson.PowensInvalid(`"me" needs the user's own user_token as the Bearer token; with an API key, give the user's id`)
		}
		return caller.User, nil
	}
	id, ok := parseID(param)
	if !ok {
		return nil, apijson.PowensInvalid(`the user id must be a positive integer or "me"`)
	}
	if caller.User != nil {
		if caller.User.ID != id {
			return nil, apijson.PowensForbidden("a user_token reaches only its own user")
		}
		return caller.User, nil
	}
	u, err := h.DB.EndUserByID(c.UserContext(), id)
	if err != nil {
		return nil, err
	}
	if u.Removed() {
		return nil, apijson.PowensNotFound()
	}
	return u, nil
}

// PowensUserGet is Powens' GET /2.0/users/{id|me}.
func (h *Handler) PowensUserGet(c *fiber.Ctx) error {
	u, err := h.powensUser(c)
	if err != nil {
		return err
	}
	return apijson.Send(c, http.StatusOK, apijson.NewPowensUser(u))
}
