package handlers

import (
	"errors"
	"net/http"
	"strings"
	"unicode"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// LoginShow renders the sign-in form (GET /login).
func (h *Handler) LoginShow(c *fiber.Ctx) error {
	next := safeNext(c.Query("next"))
	if current.Member(c) != nil {
		return c.Redirect(next, fiber.StatusSeeOther)
	}
	oidc, err := h.loginOIDC(c)
	if err != nil {
		return err
	}
	form := pages.LoginForm{CSRFToken: current.CSRFToken(c), Next: next, OIDC: oidc, Passkeys: h.Passkeys != nil}
	switch {
	case c.Query("signed_out") != "":
		form.Notice = "You have signed out."
	case c.Query("welcome") != "":
		form.Notice = "Your password is set. Sign in to continue."
	case c.Query("next") != "":
		form.Notice = "Sign in to continue."
	}
	return render.Page(c, http.StatusOK, "Sign in", pages.Login(form))
}

// LoginSubmit checks the credentials and starts a session (POST /login).
func (h *Handler) LoginSubmit(c *fiber.Ctx) error {
	next := safeNext(c.FormValue("next"))
	if current.Member(c) != nil {
		return c.Redirect(next, fiber.StatusSeeOther)
	}
	email := utils.CopyString(strings.TrimSpace(c.FormValue("email")))
	password := c.FormValue("password")
	origin := current.Origin(c)

	id, row := h.Sessions.Prepare(c, origin.IP)
	if _, err := h.DB.SignIn(c.UserContext(), origin, email, password, row); err != nil {
		var merr *models.Error
		if !errors.As(err, &merr) {
			return err
		}
		status := http.StatusUnauthorized
		switch merr.Kind {
		case models.KindUnauthorized:
		case models.KindThrottled:
			status = http.StatusTooManyRequests
		case models.KindForbidden:
			status = http.StatusForbidden // SSO is required
		case models.KindBusy:
			status = http.StatusTooManyRequests
			c.Set(fiber.HeaderRetryAfter, retryAfterBusy)
		default:
			return err
		}
		oidc, err := h.loginOIDC(c)
		if err != nil {
			return err
		}
		return render.Page(c, status, "Sign in", pages.Login(pages.LoginForm{
			CSRFToken: current.CSRFToken(c), Email: email, Next: next, Error: merr.Message, OIDC: oidc, Passkeys: h.Passkeys != nil,
		}))
	}
	if err := h.Sessions.Begin(c, id); err != nil {
		return err
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// safeNext accepts only a path on this site as the page to return to, so
// the login form cannot be used to send people elsewhere. Browsers drop
// tabs and newlines from a URL and read a backslash as a slash, so
// "/<tab>/evil.example" would leave the site, and a newline would split
// the Location header: any control character or backslash is refused.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsRune(next, '\\') || strings.IndexFunc(next, unicode.IsControl) >= 0 ||
		strings.HasPrefix(next, "/login") {
		return "/"
	}
	return utils.CopyString(next)
}

// retryAfterBusy is the Retry-After, in seconds, of an answer refused
// because every password-hashing slot was taken.
const retryAfterBusy = "2"
