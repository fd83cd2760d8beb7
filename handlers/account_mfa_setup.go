package handlers

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// AccountMFASetup draws a new secret to add to an authenticator app
// (POST /account/mfa/setup); it is shown until a code confirms it. It
// asks for the current password, so that a stolen session cannot bind
// its own authenticator. An admin made to enrol at sign-in is not asked
// again: their pending session is the proof of a password typed moments
// ago (models.MFASetupProof).
func (h *Handler) AccountMFASetup(c *fiber.Ctx) error {
	proof := models.MFASetupProof{Password: c.FormValue("password")}
	if row := current.SessionRow(c); row.MFAStage == models.AwaitingEnrolment {
		proof = models.MFASetupProof{PendingSignIn: row.IDHash}
	}
	err := h.DB.StartMFASetup(c.UserContext(), current.Origin(c), current.Member(c), proof)
	if err != nil {
		var merr *models.Error
		if !errors.As(err, &merr) {
			return err
		}
		switch merr.Kind {
		case models.KindConflict:
			// Already on (another tab): the page says so.
		case models.KindInvalid, models.KindThrottled:
			return h.mfaFormError(c, err, "password")
		default:
			return err
		}
	}
	if !current.IsHTMX(c) {
		return c.Redirect("/account/mfa", fiber.StatusSeeOther)
	}
	return h.AccountMFAShow(c)
}
