package handlers

import (
	"errors"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// SettingsSSOUpdate saves the single sign-on settings, audited as
// settings.sso_update (POST /settings/sso, admins). Refused input comes
// back as 422 with the form as sent and the message beside its field.
func (h *Handler) SettingsSSOUpdate(c *fiber.Ctx) error {
	form := models.SSOForm{
		Required:   c.FormValue("sso_required") == "on",
		BreakGlass: c.FormValue("break_glass"),
		Domains:    c.FormValue("allowed_domains"),
		RoleMap:    c.FormValue("role_map"),
	}
	next, err := models.ParseSSOForm(form)
	changed := false
	if err == nil {
		changed, err = h.DB.UpdateSSOSettings(c.UserContext(), current.Origin(c), next, h.SSO != nil)
	}
	var merr *models.Error
	if errors.As(err, &merr) && merr.Kind == models.KindInvalid {
		v, verr := h.settingsSSOView(c)
		if verr != nil {
			return verr
		}
		// The values as sent, so nothing typed is lost (models checked
		// their text; the form shows them escaped).
		v.Required, v.BreakGlass, v.Domains, v.RoleMap = form.Required, form.BreakGlass, form.Domains, form.RoleMap
		v.Errors = merr.Fields
		return h.settingsRefused(c, pages.SettingsSSOForm(v), func(page *pages.SettingsView) { page.SSO = v })
	}
	if err != nil {
		return err
	}
	return settingsSaved(c, changed, "SSO settings saved.", func(done string) (templ.Component, error) {
		v, err := h.settingsSSOView(c)
		v.Done = done
		return pages.SettingsSSOForm(v), err
	})
}

// settingsSSOView is the SSO section as stored.
func (h *Handler) settingsSSOView(c *fiber.Ctx) (pages.SettingsSSOView, error) {
	s, err := h.DB.Settings(c.UserContext())
	if err != nil {
		return pages.SettingsSSOView{}, err
	}
	admins, err := h.DB.BreakGlassCandidates(c.UserContext())
	if err != nil {
		return pages.SettingsSSOView{}, err
	}
	v := pages.SettingsSSOView{CSRFToken: current.CSRFToken(c), Required: s.SSO.Required,
		BreakGlass: s.SSO.BreakGlassMemberID, Domains: s.SSO.DomainsText(), RoleMap: s.SSO.RoleMapText()}
	if h.SSO != nil {
		v.Configured, v.Provider, v.Issuer, v.RedirectURL = true, h.SSO.Name(), h.SSO.Issuer(), h.SSO.RedirectURL()
	}
	for _, m := range admins {
		v.Candidates = append(v.Candidates, pages.SSOCandidate{ID: m.ID, Email: m.EmailAddress})
	}
	return v, nil
}
