package handlers

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
	"ledgerdesk/models/text"
	"ledgerdesk/sso"
)

// LoginOIDCCallback takes the identity provider's answer (GET
// /login/oidc/callback?code&state): the state must be one this browser
// began and not used yet; the code is exchanged with the PKCE verifier and
// the ID token checked (signature, issuer, audience, expiry, nonce); then
// models decide who comes in, and the session begins as a password
// sign-in's does: a new id, a new CSRF binding, auth.login audited.
func (h *Handler) LoginOIDCCallback(c *fiber.Ctx) error {
	if current.Member(c) != nil {
		// Already signed in (another tab finished first): nothing to take.
		return c.Redirect("/", fiber.StatusSeeOther)
	}
	if h.SSO == nil {
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	ctx, origin := c.UserContext(), current.Origin(c)
	browser := utils.CopyString(c.Cookies(h.oidcCookieName()))
	state := utils.CopyString(c.Query("state"))
	// The cookie serves one answer, whatever it says.
	c.Cookie(&fiber.Cookie{Name: h.oidcCookieName(), Value: "", Path: "/", MaxAge: -1,
		Secure: h.SecureCookies, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode})

	next, err := h.DB.ClaimOIDCState(ctx, state, browser)
	if errors.Is(err, models.ErrOIDCState) {
		return h.oidcFailed(c, origin, http.StatusBadRequest, "state_invalid", models.ErrOIDCState.Message)
	}
	if err != nil {
		return err
	}
	if e := c.Query("error"); e != "" {
		return h.oidcFailed(c, origin, http.StatusUnauthorized, "provider_refused",
			h.SSO.Name()+" did not sign you in ("+oauthErrorCode(e)+"). Start again, or ask your IT team.")
	}
	code := utils.CopyString(c.Query("code"))
	if code == "" || !text.Key.Valid(code) {
		return h.oidcFailed(c, origin, http.StatusBadRequest, "code_missing",
			h.SSO.Name()+" sent no usable code back. Start again.")
	}
	nonce, verifier := sso.Derive(browser, state)
	id, err := h.SSO.Identify(ctx, code, verifier, nonce)
	var failure *sso.Failure
	if errors.As(err, &failure) {
		// What went wrong stays in the log; the page says only whom to ask.
		h.Logger.Warn("sign-in through the identity provider failed", "reason", failure.Reason,
			"error", failure.Err.Error(), "request_id", current.RequestID(c))
		status, msg := http.StatusUnauthorized, h.SSO.Name()+"'s answer could not be verified, so nobody was signed in. Start again; if it happens again, tell an admin."
		if failure.Reason == sso.ReasonUnreachable {
			status, msg = http.StatusServiceUnavailable, h.SSO.Name()+" cannot be reached right now. Try again in a minute."
		}
		return h.oidcFailed(c, origin, status, failure.Reason, msg)
	}
	if err != nil {
		return err
	}

	sid, row := h.Sessions.Prepare(c, origin.IP)
	if _, err := h.DB.SignInWithOIDC(ctx, origin, id, row); err != nil {
		var refused *models.SSORefused
		if errors.As(err, &refused) {
			return h.oidcRefused(c, http.StatusForbidden, refused.Reason, refused.Message)
		}
		return err
	}
	if err := h.Sessions.Begin(c, sid); err != nil {
		return err
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// oidcFailed audits a failed answer (auth.login_failed, method oidc) and
// says so.
func (h *Handler) oidcFailed(c *fiber.Ctx, o models.Origin, status int, reason, message string) error {
	if err := h.DB.RecordOIDCFailure(c.UserContext(), o, nil, reason); err != nil {
		return err
	}
	return h.oidcRefused(c, status, reason, message)
}

// oauthErrorCode is the provider's error code as the page may repeat it:
// OAuth's codes are lower-case words joined by underscores; anything else
// is not echoed.
func oauthErrorCode(e string) string {
	if len(e) > 64 {
		return "error"
	}
	for _, r := range e {
		if !(r >= 'a' && r <= 'z' || r == '_') {
			return "error"
		}
	}
	return e
}
