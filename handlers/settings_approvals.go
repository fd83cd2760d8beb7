package handlers

import (
	"errors"
	"strconv"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// SettingsApprovalsUpdate saves whether actions wait for a second admin
// and how long a request waits (POST /settings/approvals, admins),
// audited as settings.update. A bad expiry is 422 with the values kept.
func (h *Handler) SettingsApprovalsUpdate(c *fiber.Ctx) error {
	in := models.ApprovalSettingsInput{Required: c.FormValue("approvals_required") == "on",
		ExpiryHours: utils.CopyString(c.FormValue("expiry_hours"))}
	changed, err := h.DB.UpdateApprovalSettings(c.UserContext(), current.Origin(c), in)
	var merr *models.Error
	if errors.As(err, &merr) && len(merr.Fields) > 0 {
		form := pages.SettingsApprovalsView{CSRFToken: current.CSRFToken(c), Required: in.Required,
			ExpiryHours: in.ExpiryHours, Errors: merr.Fields}
		return h.settingsRefused(c, pages.SettingsApprovalsForm(form), func(page *pages.SettingsView) { page.Approvals = form })
	}
	if err != nil {
		return err
	}
	return settingsSaved(c, changed, "Approval settings saved.", func(done string) (templ.Component, error) {
		s, err := h.DB.Settings(c.UserContext())
		form := approvalSettingsView(c, s)
		form.Done = done
		return pages.SettingsApprovalsForm(form), err
	})
}

// approvalSettingsView is the approvals section as stored.
func approvalSettingsView(c *fiber.Ctx, s models.Settings) pages.SettingsApprovalsView {
	return pages.SettingsApprovalsView{CSRFToken: current.CSRFToken(c), Required: s.ApprovalsRequired,
		ExpiryHours: strconv.Itoa(s.ApprovalExpiryHours())}
}
