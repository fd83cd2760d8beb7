package handlers

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/apijson"
	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// PlaidDashboardUserList is Plaid's POST /dashboard_user/list: a page of team
// members and the cursor of the next one ("" when done).
func (h *Handler) PlaidDashboardUserList(c *fiber.Ctx) error {
	body := apijson.BodyOf(c)
	cursor := body.Key("cursor", false)
	if err := body.Err(); err != nil {
		return err
	}
	page, err := h.DB.ListDashboardUsers(c.UserContext(), cursor)
	var merr *models.Error
	if errors.As(err, &merr) && merr.Kind == models.KindInvalid {
		return apijson.InvalidField("cursor", "not a cursor this list returned")
	}
	if err != nil {
		return err
	}
	out := apijson.DashboardUserListResponse{DashboardUsers: []apijson.DashboardUser{},
		NextCursor: page.Next, RequestID: current.RequestID(c)}
	for i := range page.Members {
		out.DashboardUsers = append(out.DashboardUsers, apijson.NewDashboardUser(&page.Members[i]))
	}
	return apijson.Send(c, http.StatusOK, out)
}
