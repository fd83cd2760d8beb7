package handlers

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/apijson"
	"ledgerdesk/models"
)

// plaidUser finds the live user a Plaid-style body names by user_token or
// user_id (the seed accepts either; when both are sent they must agree).
// Unknown and removed users are USER_NOT_FOUND alike. Every other field
// the endpoint reads must have been read before: their problems come first.
func (h *Handler) plaidUser(c *fiber.Ctx, body *apijson.Body) (*models.EndUser, error) {
	token, userID := body.Key("user_token", false), body.Key("user_id", false)
	if !body.Has("user_token") && !body.Has("user_id") {
		body.Missing("user_token")
	}
	if err := body.Err(); err != nil {
		return nil, err
	}
	if token == "" && userID == "" {
		return nil, apijson.InvalidField("user_token", "must not be empty")
	}
	ctx := c.UserContext()
	var u *models.EndUser
	var err error
	if token != "" {
		u, err = h.DB.EndUserByToken(ctx, token)
	} else {
		u, err = h.DB.EndUserByUserID(ctx, userID)
	}
	var merr *models.Error
	if errors.As(err, &merr) && merr.Kind == models.KindNotFound {
		return nil, apijson.UserNotFound()
	}
	if err != nil {
		return nil, err
	}
	if u.Removed() || (userID != "" && u.UserID != userID) {
		return nil, apijson.UserNotFound()
	}
	return u, nil
}
