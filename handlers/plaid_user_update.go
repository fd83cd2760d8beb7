package handlers

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/apijson"
	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// staleRetries is how often an update is retried when a portal edit landed
// between reading the user and writing: the API has no version to send, so
// the last write wins, as in the seed.
const staleRetries = 3

// PlaidUserUpdate is Plaid's POST /user/update: it replaces the user's
// consumer_report_user_identity.
func (h *Handler) PlaidUserUpdate(c *fiber.Ctx) error {
	body := apijson.BodyOf(c)
	ident := apijson.Identity(body.Object("consumer_report_user_identity", true))
	u, err := h.plaidUser(c, body)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		_, err = h.DB.UpdateEndUser(c.UserContext(), current.Origin(c), u.ID, u.Version, ident)
		var stale *models.StaleUpdateError
		if !errors.As(err, &stale) || attempt == staleRetries {
			break
		}
		u = stale.Current
	}
	if err != nil {
		return err
	}
	return apijson.Send(c, http.StatusOK, apijson.RequestIDResponse{RequestID: current.RequestID(c)})
}
