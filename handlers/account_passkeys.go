package handlers

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// passkeysView is the account page's passkeys section as it stands.
func (h *Handler) passkeysView(c *fiber.Ctx) (pages.PasskeysView, error) {
	keys, err := h.DB.PasskeysOf(c.UserContext(), current.Member(c).ID)
	v := pages.PasskeysView{CSRFToken: current.CSRFToken(c), Keys: keys, Zone: current.Location(c)}
	if h.Passkeys == nil {
		v.Off = "the portal needs its public address set to a name served over https, or http://localhost on one's own machine"
	}
	return v, err
}

// AccountPasskeyRegister stores the passkey the browser made for the
// options AccountPasskeyOptions gave (POST /account/passkeys, the JSON of
// the PublicKeyCredential, sent by static/js/passkeys.js).
func (h *Handler) AccountPasskeyRegister(c *fiber.Ctx) error {
	if h.Passkeys == nil {
		return passkeyJSONError(c, http.StatusNotFound, "Passkeys are off on this portal.", nil)
	}
	m := current.Member(c)
	binding := models.PasskeyBindingOfSession(current.SessionRow(c).IDHash)
	key, err := h.DB.FinishPasskeyRegistration(c.UserContext(), h.Passkeys, current.Origin(c), m, binding, copyBody(c))
	if err != nil {
		return passkeyFailure(c, err)
	}
	current.AddFlash(c, "Passkey “"+key.Name+"” added. It signs you in from now on, alone or after your password.")
	return c.JSON(fiber.Map{"redirect": "/account#passkeys"})
}

// AccountPasskeyOptions checks the name and the password of a passkey
// about to be added and answers the options for
// navigator.credentials.create (POST /account/passkeys/options).
func (h *Handler) AccountPasskeyOptions(c *fiber.Ctx) error {
	if h.Passkeys == nil {
		return passkeyJSONError(c, http.StatusNotFound, "Passkeys are off on this portal.", nil)
	}
	m := current.Member(c)
	binding := models.PasskeyBindingOfSession(current.SessionRow(c).IDHash)
	options, err := h.DB.BeginPasskeyRegistration(c.UserContext(), h.Passkeys, current.Origin(c), m,
		c.FormValue("name"), models.MFASetupProof{Password: c.FormValue("password")}, binding)
	if err != nil {
		return passkeyFailure(c, err)
	}
	return sendPasskeyOptions(c, options)
}

// copyBody is the request's body, copied: fasthttp reuses its buffer.
func copyBody(c *fiber.Ctx) []byte { return append([]byte(nil), c.Body()...) }

func sendPasskeyOptions(c *fiber.Ctx, options []byte) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(options)
}

// passkeyFailure answers a refused passkey step as JSON the script shows:
// the message, and each field's beside it.
func passkeyFailure(c *fiber.Ctx, err error) error {
	var merr *models.Error
	if !errors.As(err, &merr) {
		return err
	}
	status := http.StatusUnprocessableEntity
	switch merr.Kind {
	case models.KindInvalid:
	case models.KindUnauthorized:
		status = http.StatusUnauthorized
	case models.KindThrottled:
		status = http.StatusTooManyRequests
	case models.KindConflict:
		status = http.StatusConflict
	case models.KindNotFound:
		status = http.StatusNotFound
	case models.KindBusy:
		status = http.StatusTooManyRequests
		c.Set(fiber.HeaderRetryAfter, retryAfterBusy)
	default:
		return err
	}
	return passkeyJSONError(c, status, merr.Message, merr.Fields)
}

func passkeyJSONError(c *fiber.Ctx, status int, msg string, fields models.FieldErrors) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(fiber.Map{"error": msg, "fields": fields})
}
