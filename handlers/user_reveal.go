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

// UserRevealForm asks for the reason (GET /users/:id/reveal?field=ssn),
// for a field the field policy lets the member reveal.
func (h *Handler) UserRevealForm(c *fiber.Ctx) error {
	u, err := h.endUserParam(c)
	if err != nil {
		return err
	}
	field, err := revealField(c.Query("field"))
	if err != nil {
		return err
	}
	access := h.fieldAccess(c)
	if access.State(models.PersonalField(field)) != models.FieldReveal {
		return &models.Error{Kind: models.KindForbidden, Message: "The field policy does not let your role reveal this field."}
	}
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
	field, err := revealField(c.FormValue("field"))
	if err != nil {
		return err
	}
	reason := utils.CopyString(c.FormValue("reason"))
	value, err := h.DB.RevealPII(c.UserContext(), current.Origin(c), current.Member(c).Role, u.ID, field, reason)
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

// revealField reads the field asked for; none is the SSN, as the first
// reveal links asked.
func revealField(s string) (string, error) {
	if s == "" {
		return models.RevealSSN, nil
	}
	f, ok := models.ParsePersonalField(s)
	if !ok {
		return "", &models.Error{Kind: models.KindNotFound, Message: "There is no such personal field to reveal."}
	}
	return string(f), nil
}
