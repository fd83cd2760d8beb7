package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// LoginPasskeyOptions begins a password-less sign-in (POST
// /login/passkey/options): the options for navigator.credentials.get,
// bound to this browser's pre-sign-in value.
func (h *Handler) LoginPasskeyOptions(c *fiber.Ctx) error {
	if h.Passkeys == nil {
		return passkeyJSONError(c, http.StatusNotFound, "Passkeys are off on this portal.", nil)
	}
	if current.Member(c) != nil {
		return c.JSON(fiber.Map{"redirect": "/"})
	}
	visitor := current.Visitor(c)
	if visitor == "" {
		return passkeyJSONError(c, http.StatusBadRequest, "Reload the page and try again.", nil)
	}
	options, err := h.DB.BeginPasskeySignIn(c.UserContext(), h.Passkeys, models.PasskeyBindingOfVisitor(visitor))
	if err != nil {
		return passkeyFailure(c, err)
	}
	return sendPasskeyOptions(c, options)
}

// LoginPasskey signs in with the passkey the browser chose (POST
// /login/passkey, the JSON of the PublicKeyCredential): a new session,
// completed at once, and where to go next.
func (h *Handler) LoginPasskey(c *fiber.Ctx) error {
	if h.Passkeys == nil {
		return passkeyJSONError(c, http.StatusNotFound, "Passkeys are off on this portal.", nil)
	}
	next := safeNext(c.Query("next"))
	if current.Member(c) != nil {
		return c.JSON(fiber.Map{"redirect": next})
	}
	visitor := current.Visitor(c)
	if visitor == "" {
		return passkeyJSONError(c, http.StatusBadRequest, "Reload the page and try again.", nil)
	}
	origin := current.Origin(c)
	id, row := h.Sessions.Prepare(c, origin.IP)
	if _, err := h.DB.PasskeySignIn(c.UserContext(), h.Passkeys, origin, models.PasskeyBindingOfVisitor(visitor), copyBody(c), row); err != nil {
		return passkeyFailure(c, err)
	}
	if err := h.Sessions.Begin(c, id); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"redirect": next})
}
