package handlers

import (
	"net/http"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/views/pages"
)

// The settings page is made of sections, each a form with its own POST
// route. They answer alike: these are the two answers.

// settingsRefused answers a section's refused form: the form as sent,
// 422, alone for htmx, else in the whole page (place puts it there).
func (h *Handler) settingsRefused(c *fiber.Ctx, form templ.Component, place func(*pages.SettingsView)) error {
	stayOn(c, "/settings")
	if current.IsHTMX(c) {
		return render.Fragment(c, http.StatusUnprocessableEntity, form)
	}
	v, err := h.settingsView(c)
	if err != nil {
		return err
	}
	place(&v)
	return render.Page(c, http.StatusUnprocessableEntity, "Settings", pages.Settings(v))
}

// settingsSaved answers a section that was stored (changed) or found as
// asked: a flash and the page again without htmx; with htmx the section
// redrawn, saying done.
func settingsSaved(c *fiber.Ctx, changed bool, saved string, section func(done string) (templ.Component, error)) error {
	done := "Nothing changed."
	if changed {
		done = saved
	}
	if !current.IsHTMX(c) {
		current.AddFlash(c, done)
		return c.Redirect("/settings", fiber.StatusSeeOther)
	}
	form, err := section(done)
	if err != nil {
		return err
	}
	return render.Fragment(c, http.StatusOK, form)
}
