package handlers

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// LoginMFAShow asks a sign-in waiting for its second factor for the code
// (GET /login/mfa). The route table lets only such sessions here.
func (h *Handler) LoginMFAShow(c *fiber.Ctx) error {
	f, err := h.withPasskeyFactor(c, pages.LoginMFAForm{
		CSRFToken: current.CSRFToken(c), Email: current.Member(c).EmailAddress, Next: safeNext(c.Query("next")),
	})
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "Two-step sign-in", pages.LoginMFA(f))
}

// LoginMFASubmit takes the code, from the app or a recovery code, and
// completes the sign-in under a new session id (POST /login/mfa).
func (h *Handler) LoginMFASubmit(c *fiber.Ctx) error {
	m := current.Member(c)
	next := safeNext(c.FormValue("next"))
	origin := current.Origin(c)
	id, row := h.Sessions.Prepare(c, origin.IP)
	err := h.DB.CompleteSignIn(c.UserContext(), origin, m, c.FormValue("code"),
		models.Promotion{From: current.SessionRow(c).IDHash, To: row})
	if err == nil {
		if err := h.beginPromoted(c, id); err != nil {
			return err
		}
		return c.Redirect(next, fiber.StatusSeeOther)
	}
	var merr *models.Error
	if !errors.As(err, &merr) {
		return err
	}
	var status int
	switch merr.Kind {
	case models.KindUnauthorized, models.KindInvalid:
		status = http.StatusUnauthorized
	case models.KindThrottled:
		status = http.StatusTooManyRequests
	case models.KindNotFound:
		// The waiting session ended meanwhile (another tab finished it).
		return c.Redirect("/login", fiber.StatusSeeOther)
	default:
		return err
	}
	f, ferr := h.withPasskeyFactor(c, pages.LoginMFAForm{
		CSRFToken: current.CSRFToken(c), Email: m.EmailAddress, Next: next, Error: fieldOr(merr, "code"),
	})
	if ferr != nil {
		return ferr
	}
	return render.Page(c, status, "Two-step sign-in", pages.LoginMFA(f))
}

// beginPromoted sets the cookie of the session that replaced the request's
// own, and points the request's session at it, so anything saved later in
// this request lands on the new one.
func (h *Handler) beginPromoted(c *fiber.Ctx, id string) error {
	if err := h.Sessions.Begin(c, id); err != nil {
		return err
	}
	if s := current.Session(c); s != nil {
		s.ID = id
	}
	if row := current.SessionRow(c); row != nil {
		// Pages drawn from here on speak for the new session (its CSRF
		// token, for one).
		row.IDHash = models.HashToken(id)
	}
	return nil
}

// fieldOr is the message for field, else the error's own message.
func fieldOr(e *models.Error, field string) string {
	if msg := e.Fields[field]; msg != "" {
		return msg
	}
	return e.Message
}
