package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/views/pages"
)

// AccountMFADisable turns two-step sign-in off after a current code, not
// the password: see models.DisableMFA (POST /account/mfa/disable).
func (h *Handler) AccountMFADisable(c *fiber.Ctx) error {
	if err := h.DB.DisableMFA(c.UserContext(), current.Origin(c), current.Member(c), c.FormValue("disable_code")); err != nil {
		return h.mfaFormError(c, err, "disable_code")
	}
	const done = "Two-step sign-in is off. Sign-in asks only for your password."
	if !current.IsHTMX(c) {
		current.AddFlash(c, done)
		return c.Redirect("/account/mfa", fiber.StatusSeeOther)
	}
	v, err := h.mfaView(c)
	if err != nil {
		return err
	}
	v.Done = done
	return render.Page(c, http.StatusOK, mfaTitle, pages.AccountMFA(v))
}
