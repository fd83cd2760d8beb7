package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// withPasskeyFactor tells the second step of sign-in whether to offer the
// member's passkey, and whether a code is asked for at all.
func (h *Handler) withPasskeyFactor(c *fiber.Ctx, f pages.LoginMFAForm) (pages.LoginMFAForm, error) {
	if h.Passkeys == nil {
		return f, nil
	}
	ctx, m := c.UserContext(), current.Member(c)
	keys, err := h.DB.HasPasskeys(ctx, m.ID)
	if err != nil || !keys {
		return f, err
	}
	totp, err := h.DB.MFAEnabled(ctx, m.ID)
	f.Passkey, f.NoCode = true, !totp
	return f, err
}

// LoginMFAPasskeyOptions begins the second step of sign-in with a passkey
// (POST /login/mfa/passkey/options), bound to the waiting session.
func (h *Handler) LoginMFAPasskeyOptions(c *fiber.Ctx) error {
	if h.Passkeys == nil {
		return passkeyJSONError(c, http.StatusNotFound, "Passkeys are off on this portal.", nil)
	}
	binding := models.PasskeyBindingOfSession(current.SessionRow(c).IDHash)
	options, err := h.DB.BeginPasskeySecondFactor(c.UserContext(), h.Passkeys, current.Member(c), binding)
	if err != nil {
		return passkeyFailure(c, err)
	}
	return sendPasskeyOptions(c, options)
}

// LoginMFAPasskey takes the passkey's answer and completes the sign-in
// under a new session id (POST /login/mfa/passkey).
func (h *Handler) LoginMFAPasskey(c *fiber.Ctx) error {
	if h.Passkeys == nil {
		return passkeyJSONError(c, http.StatusNotFound, "Passkeys are off on this portal.", nil)
	}
	m := current.Member(c)
	next := safeNext(c.Query("next"))
	origin := current.Origin(c)
	pending := current.SessionRow(c).IDHash
	id, row := h.Sessions.Prepare(c, origin.IP)
	err := h.DB.CompletePasskeySecondFactor(c.UserContext(), h.Passkeys, origin, m, models.PasskeyBindingOfSession(pending),
		copyBody(c), models.Promotion{From: pending, To: row})
	if models.ErrorKind(err) == models.KindNotFound {
		// The waiting session ended meanwhile (another tab finished it).
		return c.JSON(fiber.Map{"redirect": "/login"})
	}
	if err != nil {
		return passkeyFailure(c, err)
	}
	if err := h.beginPromoted(c, id); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"redirect": next})
}
