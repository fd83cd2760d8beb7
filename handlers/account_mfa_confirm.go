package handlers

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// AccountMFAConfirm turns two-step sign-in on once the app's first code
// matches, and shows the recovery codes this once (POST
// /account/mfa/confirm). For an admin whose sign-in waited for this, the
// sign-in completes here, under a new session id.
func (h *Handler) AccountMFAConfirm(c *fiber.Ctx) error {
	m := current.Member(c)
	origin := current.Origin(c)
	var promotion *models.Promotion
	var id string
	if row := current.SessionRow(c); row.MFAStage == models.AwaitingEnrolment {
		var next models.Session
		id, next = h.Sessions.Prepare(c, origin.IP)
		promotion = &models.Promotion{From: row.IDHash, To: next}
	}
	codes, err := h.DB.ConfirmMFA(c.UserContext(), origin, m, c.FormValue("code"), promotion)
	if err != nil {
		var merr *models.Error
		if errors.As(err, &merr) && merr.Kind == models.KindConflict {
			return c.Redirect("/account/mfa", fiber.StatusSeeOther)
		}
		return h.mfaFormError(c, err, "code")
	}
	continueTo := "/account/mfa"
	if promotion != nil {
		if err := h.beginPromoted(c, id); err != nil {
			return err
		}
		continueTo = "/"
	}
	return h.showRecoveryCodes(c, codes, "Two-step sign-in is on.", continueTo)
}
