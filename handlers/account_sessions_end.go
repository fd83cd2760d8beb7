package handlers

import (
	"errors"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

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
