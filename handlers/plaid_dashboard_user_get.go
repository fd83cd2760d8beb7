package handlers

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/apijson"
	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// PlaidDashboardUserGet is Plaid's POST /dashboard_user/get: one team member.
func (h *Handler) PlaidDashboardUserGet(c *fiber.Ctx) error {
	body := apijson.BodyOf(c)
	id := body.Key("dashboard_user_id", true)
	if err := body.Err(); err != nil {
		return err
	}
	m, err := h.DB.MemberByID(c.UserContext(), id)
	var merr *models.Error
	if errors.As(err, &merr) && merr.Kind == models.KindNotFound {
		return apijson.InvalidField("dashboard_user_id", "no dashboard user has this id")
	}
	if err != nil {
		return err
	}
	return apijson.Send(c, http.StatusOK, apijson.DashboardUserGetResponse{
		DashboardUser: apijson.NewDashboardUser(m), RequestID: current.RequestID(c)})
}
