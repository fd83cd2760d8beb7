package handlers

import (
	"net/http"
	"strconv"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/layout"
	"ledgerdesk/views/pages"
)

// UserRotateToken issues a new user_token, shown once
// (POST /users/:id/rotate-token); the old one stops working.
func (h *Handler) UserRotateToken(c *fiber.Ctx) error {
	u, err := h.endUserParam(c)
	if err != nil {
		return err
	}
	if on, err := h.approvalsRequired(c.UserContext()); err != nil {
		return err
	} else if on {
		return h.requestApproval(c, userAsk(u, models.ApproveTokenRotate, "Rotate token", "/rotate-token", "Rotate the user_token of "))
	}
	token, err := h.DB.RotateUserToken(c.UserContext(), current.Origin(c), u.ID)
	if err != nil {
		return err
	}
	panel := pages.TokenPanel(u, token, "New user_token for user "+strconv.FormatInt(u.ID, 10))
	if current.IsHTMX(c) {
		page, err := h.userPageOOB(c, u.ID)
		if err != nil {
			return err
		}
		// The panel replaces the previous action's message: the flash
		// area empties.
		return render.Fragment(c, http.StatusOK, templ.Join(panel, page, layout.FlashesOOB(nil)))
	}
	return render.Page(c, http.StatusOK, "New user_token", panel)
}
