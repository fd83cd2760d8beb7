package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

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
	}))
}

// AccountSessionEnd ends one of the member's other sessions
// (POST /account/sessions/:session/end).
func (h *Handler) AccountSessionEnd(c *fiber.Ctx) error {
	msg, err := h.endSession(c, current.Member(c).ID)
	if err != nil {
		return err
	}
	current.AddFlash(c, msg)
	return redirect(c, "/account/sessions")
}

// AccountSessionsEndOthers ends every session of the member but this one
// (POST /account/sessions/end-others).
func (h *Handler) AccountSessionsEndOthers(c *fiber.Ctx) error {
	me := current.Member(c)
	n, err := h.DB.EndOtherSessions(c.UserContext(), current.Origin(c), me.ID, current.SessionRow(c).IDHash)
	if err != nil {
		return err
	}
	current.AddFlash(c, fmt.Sprintf("%d other session%s ended.", n, plural(n)))
	return redirect(c, "/account/sessions")
}

// TeamSessionEnd ends a session of any member, from the member's page
// (POST /team/:id/sessions/:session/end).
func (h *Handler) TeamSessionEnd(c *fiber.Ctx) error {
	m, err := h.memberParam(c)
	if err != nil {
		return err
	}
	msg, err := h.endSession(c, m.ID)
	if err != nil {
		return err
	}
	current.AddFlash(c, msg)
	return redirect(c, "/team/"+m.ID)
}

// endSession ends the member's session named by :session and says what
// happened. A session that had already ended (another tab, a sign-out)
// is not an error: the result is the one asked for.
func (h *Handler) endSession(c *fiber.Ctx, memberID string) (string, error) {
	ended, err := h.DB.EndSession(c.UserContext(), current.Origin(c), models.SessionEnd{
		MemberID: memberID, Handle: utils.CopyString(c.Params("session")), Current: current.SessionRow(c).IDHash,
	})
	var merr *models.Error
	switch {
	case errors.As(err, &merr) && merr.Kind == models.KindConflict:
		return merr.Message, nil
	case err != nil:
		return "", err
	case !ended:
		return "That session had already ended.", nil
	}
	return "Session ended. That browser must sign in again.", nil
}
