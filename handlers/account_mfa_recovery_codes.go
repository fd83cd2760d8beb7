package handlers

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
)

// AccountMFARecoveryCodes replaces the member's recovery codes after a
// current code (POST /account/mfa/recovery-codes).
func (h *Handler) AccountMFARecoveryCodes(c *fiber.Ctx) error {
	codes, err := h.DB.RegenerateRecoveryCodes(c.UserContext(), current.Origin(c), current.Member(c), c.FormValue("regenerate_code"))
	if err != nil {
		return h.mfaFormError(c, err, "regenerate_code")
	}
	return h.showRecoveryCodes(c, codes, "New recovery codes made. The old ones no longer work.", "/account/mfa")
}
