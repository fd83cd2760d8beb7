package handlers

import (
	"net/http"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// SettingsShow renders the portal settings (GET /settings, admins).
func (h *Handler) SettingsShow(c *fiber.Ctx) error {
	v, err := h.settingsView(c)
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "Settings", pages.Settings(v))
}

// SettingsUpdate saves the settings, audited as settings.update (POST
// /settings, admins). An unticked box is absent from the form: off.
func (h *Handler) SettingsUpdate(c *fiber.Ctx) error {
	next := models.Settings{MFARequiredForAdmins: c.FormValue("mfa_required_for_admins") == "on"}
	changed, err := h.DB.UpdateSettings(c.UserContext(), current.Origin(c), next)
	if err != nil {
		return err
	}
	return settingsSaved(c, changed, "Settings saved.", func(done string) (templ.Component, error) {
		v, err := h.settingsView(c)
		v.Done = done
		return pages.SettingsForm(v), err
	})
}

func (h *Handler) settingsView(c *fiber.Ctx) (pages.SettingsView, error) {
	s, err := h.DB.Settings(c.UserContext())
	if err != nil {
		return pages.SettingsView{}, err
	}
	on, err := h.DB.MFAEnabled(c.UserContext(), current.Member(c).ID)
	if err != nil {
		return pages.SettingsView{}, err
	}
	policy, err := h.fieldPolicyView(c)
	if err != nil {
		return pages.SettingsView{}, err
	}
	sso, err := h.settingsSSOView(c)
	if err != nil {
		return pages.SettingsView{}, err
	}
	return pages.SettingsView{CSRFToken: current.CSRFToken(c), MFARequiredForAdmins: s.MFARequiredForAdmins, SelfWithoutMFA: !on,
		FieldPolicy: policy, Approvals: approvalSettingsView(c, s), SSO: sso}, nil
}
