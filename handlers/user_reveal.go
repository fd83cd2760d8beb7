package handlers

import (
	"errors"
	"net/http"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// UserRevealForm asks for the reason (GET /users/:id/reveal?field=ssn).
func (h *Handler) UserRevealForm(c *fiber.Ctx) error {
	u, err := h.endUserParam(c)
	if err != nil {
		return err
	}
	field := revealField(c.Query("field"))
	form := pages.RevealForm(u, field, "", "", current.CSRFToken(c))
	if current.IsHTMX(c) {
		return render.Fragment(c, http.StatusOK, form)
	}
	return render.Page(c, http.StatusOK, "Reveal", pages.RevealPage(u, form))
}

// UserReveal shows one personal value (POST /users/:id/reveal) after
// writing the user.pii_reveal entry with the reason; the answer is never
// cached.
func (h *Handler) UserReveal(c *fiber.Ctx) error {
	u, err := h.endUserParam(c)
	if err != nil {
		return err
	}
	field := revealField(c.FormValue("field"))
	reason := utils.CopyString(c.FormValue("reason"))
	value, err := h.DB.RevealPII(c.UserContext(), current.Origin(c), u.ID, field, reason)
	var body = pages.Revealed(value)
	status := http.StatusOK
	if err != nil {
		var merr *models.Error
		if !errors.As(err, &merr) || merr.Fields["reason"] == "" {
			return err
		}
		status = http.StatusUnprocessableEntity
		body = pages.RevealForm(u, field, reason, merr.Fields["reason"], current.CSRFToken(c))
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if current.IsHTMX(c) {
		if status == http.StatusOK {
			// The reveal's entry shows in the History at once.
			page, err := h.userPageOOB(c, u.ID)
			if err != nil {
				return err
			}
			body = templ.Join(body, page)
		}
		return render.Fragment(c, status, body)
	}
	return render.Page(c, status, "Reveal", pages.RevealPage(u, body))
}

func revealField(s string) string {
	if s == models.RevealDateOfBirth {
		return models.RevealDateOfBirth
	}
	return models.RevealSSN
}
