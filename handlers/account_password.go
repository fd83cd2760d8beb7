package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// AccountPasswordChange changes the member's password and ends their other
// sessions (POST /account/password). Errors come back as 422 with each
// message beside its field.
func (h *Handler) AccountPasswordChange(c *fiber.Ctx) error {
	m := current.Member(c)
	in := models.PasswordChange{Current: c.FormValue("current"), New: c.FormValue("new"), Confirm: c.FormValue("confirm")}
	ended, err := h.DB.ChangePassword(c.UserContext(), current.Origin(c), m.ID, current.SessionRow(c).IDHash, in)
	form := pages.PasswordForm{CSRFToken: current.CSRFToken(c)}
	if err != nil {
		var merr *models.Error
		if !errors.As(err, &merr) || merr.Kind != models.KindInvalid {
			return err
		}
		form.Errors, form.Advice = merr.Fields, merr.Advice
		return h.passwordFormResponse(c, http.StatusUnprocessableEntity, form)
	}
	form.Done = fmt.Sprintf("Password changed. %d other session%s signed out.", ended, plural(ended))
	if !current.IsHTMX(c) {
		current.AddFlash(c, form.Done)
		return c.Redirect("/account", fiber.StatusSeeOther)
	}
	return h.passwordFormResponse(c, http.StatusOK, form)
}

func (h *Handler) passwordFormResponse(c *fiber.Ctx, status int, form pages.PasswordForm) error {
	if current.IsHTMX(c) {
		return render.Fragment(c, status, pages.PasswordFormView(form))
	}
	v, err := h.accountView(c)
	if err != nil {
		return err
	}
	v.Password = form
	return render.Page(c, status, "Your account", pages.Account(v))
}
