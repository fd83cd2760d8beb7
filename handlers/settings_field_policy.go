package handlers

import (
	"errors"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
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
		return h.settingsRefused(c, pages.SettingsFieldPolicy(v), func(page *pages.SettingsView) { page.FieldPolicy = v })
	case err != nil:
		return err
	}
	return settingsSaved(c, changed, "Field policy saved. It applies from the next request on.", func(done string) (templ.Component, error) {
		v.Done = done
		return pages.SettingsFieldPolicy(v), nil
	})
}

// fieldPolicyView is the settings page's field policy grid as stored.
func (h *Handler) fieldPolicyView(c *fiber.Ctx) (pages.FieldPolicyView, error) {
	p, err := h.DB.FieldPolicy(c.UserContext())
	if err != nil {
		return pages.FieldPolicyView{}, err
	}
	return pages.FieldPolicyView{CSRFToken: current.CSRFToken(c), Policy: p}, nil
}
