package handlers

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/sso"
	"ledgerdesk/views/pages"
)

// oidcCookie holds the random value that binds a sign-in sent to the
// identity provider to the browser that sent it.
const oidcCookie = "ledgerdesk_oidc"

func (h *Handler) oidcCookieName() string {
	if h.SecureCookies {
		// Only this host, over TLS, can set it.
		return "__Host-" + oidcCookie
	}
	return oidcCookie
}

// LoginOIDC sends the browser to the identity provider to sign in (GET
// /login/oidc). The sign-in is recorded by its state, bound to a cookie,
// and works once, within models.OIDCStateLifetime.
func (h *Handler) LoginOIDC(c *fiber.Ctx) error {
	next := safeNext(c.Query("next"))
	if current.Member(c) != nil {
		return c.Redirect(next, fiber.StatusSeeOther)
	}
	if h.SSO == nil {
		// A bookmark from when a provider was configured.
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	// A browser that began a sign-in in another tab keeps its value, so
	// that sign-in still finishes.
	browser := c.Cookies(h.oidcCookieName())
	if len(browser) != 43 || !isBase64URL(browser) {
		browser = models.RandomToken(32)
	} else {
		browser = utils.CopyString(browser)
	}
	state := models.RandomToken(32)
	nonce, verifier := sso.Derive(browser, state)
	if err := h.DB.BeginOIDCSignIn(c.UserContext(), state, browser, next); err != nil {
		return err
	}
	authURL, err := h.SSO.AuthURL(c.UserContext(), state, nonce, verifier)
	if err != nil {
		h.Logger.Warn("identity provider unreachable", "error", err.Error(), "request_id", current.RequestID(c))
		return h.oidcRefused(c, http.StatusServiceUnavailable, sso.ReasonUnreachable,
			h.SSO.Name()+" cannot be reached right now. Try again in a minute.")
	}
	c.Cookie(&fiber.Cookie{Name: h.oidcCookieName(), Value: browser, Path: "/",
		MaxAge: int(models.OIDCStateLifetime / time.Second), Secure: h.SecureCookies, HTTPOnly: true,
		// Lax: the provider sends the browser back with a top-level GET,
		// which carries Lax cookies.
		SameSite: fiber.CookieSameSiteLaxMode})
	return c.Redirect(authURL, fiber.StatusSeeOther)
}

// oidcRefused answers a sign-in through the provider that does not go on.
func (h *Handler) oidcRefused(c *fiber.Ctx, status int, reason, message string) error {
	name := ""
	if h.SSO != nil {
		name = h.SSO.Name()
	}
	return render.Page(c, status, "Sign-in refused", pages.LoginOIDCRefused(pages.LoginOIDCRefusal{
		Status: status, Reason: reason, Message: message, Provider: name}))
}

func isBase64URL(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// loginOIDC is what the sign-in page says of the identity provider.
func (h *Handler) loginOIDC(c *fiber.Ctx) (pages.LoginOIDC, error) {
	if h.SSO == nil {
		return pages.LoginOIDC{}, nil
	}
	s, err := h.DB.Settings(c.UserContext())
	if err != nil {
		return pages.LoginOIDC{}, err
	}
	return pages.LoginOIDC{Name: h.SSO.Name(), Required: s.SSO.Required}, nil
}
