package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// AccountPasskeyRemove removes one of the member's passkeys once their
// password confirms it (POST /account/passkeys/:id/remove). A refusal is
// the account page again, 422, the message beside the password.
func (h *Handler) AccountPasskeyRemove(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return fiber.ErrNotFound
	}
	err = h.DB.RemovePasskey(c.UserContext(), current.Origin(c), current.Member(c), id, c.FormValue("password"))
	if err == nil {
		current.AddFlash(c, "Passkey removed.")
		return c.Redirect("/account#passkeys", fiber.StatusSeeOther)
	}
	if errors.Is(err, models.ErrPasskeyGone) {
		// As ending a session that ended: the same answer whether it was
		// the member's and went meanwhile or never was theirs.
		current.AddFlash(c, "That passkey was removed already.")
		return c.Redirect("/account#passkeys", fiber.StatusSeeOther)
	}
	var merr *models.Error
	if !errors.As(err, &merr) {
		return err
	}
	status := http.StatusUnprocessableEntity
	switch merr.Kind {
	case models.KindInvalid:
	case models.KindThrottled:
		status = http.StatusTooManyRequests
	default:
		return err
	}
	v, verr := h.accountView(c)
	if verr != nil {
		return verr
	}
	v.Passkeys.Removing, v.Passkeys.Error = id, fieldOr(merr, "password")
	return render.Page(c, status, "Your account", pages.Account(v))
}
