package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
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
		if current.IsHTMX(c) {
			return render.Fragment(c, http.StatusUnprocessableEntity, pages.SettingsApprovalsForm(form))
		}
		v, err := h.settingsView(c)
		if err != nil {
			return err
		}
		v.Approvals = form
		stayOn(c, "/settings")
		return render.Page(c, http.StatusUnprocessableEntity, "Settings", pages.Settings(v))
	}
	if err != nil {
		return err
	}
	done := "Nothing changed."
	if changed {
		done = "Approval settings saved."
	}
	if !current.IsHTMX(c) {
		current.AddFlash(c, done)
		return c.Redirect("/settings", fiber.StatusSeeOther)
	}
	s, err := h.DB.Settings(c.UserContext())
	if err != nil {
		return err
	}
	form := approvalSettingsView(c, s)
	form.Done = done
	return render.Fragment(c, http.StatusOK, pages.SettingsApprovalsForm(form))
}

// approvalSettingsView is the approvals section as stored.
func approvalSettingsView(c *fiber.Ctx, s models.Settings) pages.SettingsApprovalsView {
	return pages.SettingsApprovalsView{CSRFToken: current.CSRFToken(c), Required: s.ApprovalsRequired,
		ExpiryHours: strconv.Itoa(s.ApprovalExpiryHours())}
}
