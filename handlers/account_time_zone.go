package handlers

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// AccountTimeZone sets the zone the member reads times in, or ("") lets
// their browser's apply (POST /account/time-zone). A refused zone comes
// back as 422 with the message beside the list and the value sent kept.
func (h *Handler) AccountTimeZone(c *fiber.Ctx) error {
	m := current.Member(c)
	zone := utils.CopyString(c.FormValue(models.FieldTimeZone))
	if _, err := h.DB.SetMemberTimeZone(c.UserContext(), current.Origin(c), m.ID, zone); err != nil {
		var merr *models.Error
		if !errors.As(err, &merr) || merr.Kind != models.KindInvalid {
			return err
		}
		form := pages.TimeZoneForm{CSRFToken: current.CSRFToken(c), Value: zone, Browser: current.BrowserZone(c),
			Error: merr.Fields[models.FieldTimeZone]}
		stayOn(c, "/account")
		if current.IsHTMX(c) {
			return render.Fragment(c, http.StatusUnprocessableEntity, pages.TimeZoneFormView(form))
		}
		v, err := h.accountView(c)
		if err != nil {
			return err
		}
		v.TimeZone = form
		return render.Page(c, http.StatusUnprocessableEntity, "Your account", pages.Account(v))
	}
	z := models.ResolveZone(zone, current.BrowserZone(c))
	switch z.Source {
	case models.ZoneChosen:
		current.AddFlash(c, "Times are now shown in "+z.Name()+".")
	case models.ZoneBrowser:
		current.AddFlash(c, "Times now follow your browser's time zone, "+z.Name()+".")
	default:
		current.AddFlash(c, "Times now follow your browser's time zone; until it is known, they are shown in UTC.")
	}
	// The whole page again: every time on it, and the note at its foot,
	// change with the zone.
	return redirect(c, "/account")
}
