package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
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
		switch models.ErrorKind(err) {
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
		if models.ErrorKind(err) == models.KindConflict {
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

// showRecoveryCodes answers with freshly made recovery codes. They are in
// this response only: the page is not cached, and a reload cannot show
// them again.
func (h *Handler) showRecoveryCodes(c *fiber.Ctx, codes []string, done, continueTo string) error {
	return render.Page(c, http.StatusOK, mfaTitle, pages.AccountMFA(pages.MFAView{
		CSRFToken: current.CSRFToken(c), Done: done, NewCodes: codes, Continue: continueTo,
	}))
}
