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

// SettingsFieldPolicyUpdate saves the field policy, audited as
// settings.update with every changed cell (POST /settings/field-policy,
// admins). A policy the rules refuse is answered 422 with the grid as
// sent and a message beside each refused cell; nothing is saved.
func (h *Handler) SettingsFieldPolicyUpdate(c *fiber.Ctx) error {
	stored, err := h.DB.FieldPolicy(c.UserContext())
	if err != nil {
		return err
	}
	// Each cell is a select named "role.field"; one the form lacks is
	// refused by the rules rather than kept, so a truncated post saves
	// nothing.
	next := stored
	for _, r := range models.Roles {
		for _, f := range models.PersonalFields {
			next = next.With(r, f, models.FieldState(c.FormValue(models.PolicyCell(r, f))))
		}
	}
	v := pages.FieldPolicyView{CSRFToken: current.CSRFToken(c), Policy: next}
	changed, err := h.DB.UpdateFieldPolicy(c.UserContext(), current.Origin(c), next)
	var merr *models.Error
	switch {
	case errors.As(err, &merr) && len(merr.Fields) > 0:
		v.Errors, v.Message = merr.Fields, merr.Message
		stayOn(c, "/settings")
		if current.IsHTMX(c) {
			return render.Fragment(c, http.StatusUnprocessableEntity, pages.SettingsFieldPolicy(v))
		}
		sv, err := h.settingsView(c)
		if err != nil {
			return err
		}
		sv.FieldPolicy = v
		return render.Page(c, http.StatusUnprocessableEntity, "Settings", pages.Settings(sv))
	case err != nil:
		return err
	}
	done := "Nothing changed."
	if changed {
		done = "Field policy saved. It applies from the next request on."
	}
	if !current.IsHTMX(c) {
		current.AddFlash(c, done)
		return c.Redirect("/settings", fiber.StatusSeeOther)
	}
	v.Done = done
	return render.Fragment(c, http.StatusOK, pages.SettingsFieldPolicy(v))
}

// fieldPolicyView is the settings page's field policy grid as stored.
func (h *Handler) fieldPolicyView(c *fiber.Ctx) (pages.FieldPolicyView, error) {
	p, err := h.DB.FieldPolicy(c.UserContext())
	if err != nil {
		return pages.FieldPolicyView{}, err
	}
	return pages.FieldPolicyView{CSRFToken: current.CSRFToken(c), Policy: p}, nil
}
