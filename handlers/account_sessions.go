package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// AccountSessions lists the member's own sessions (GET /account/sessions).
func (h *Handler) AccountSessions(c *fiber.Ctx) error {
	me := current.Member(c)
	sessions, err := h.DB.SessionsOfMember(c.UserContext(), me.ID)
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "Your sessions", pages.MySessions(pages.MySessionsView{
		Sessions: h.sessionRows(c, sessions), CSRFToken: current.CSRFToken(c),
		Now: models.Now(), Zone: current.Location(c),
	}))
}
