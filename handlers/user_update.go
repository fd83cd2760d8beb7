package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// UserEdit shows the identity form filled from the stored identity
// (GET /users/:id/edit). SSN and date of birth are shown beside their
// fields as the field policy shows them, never in the fields.
func (h *Handler) UserEdit(c *fiber.Ctx) error {
	u, err := h.endUserParam(c)
	if err != nil {
		return err
	}
	if u.Removed() {
		return &models.Error{Kind: models.KindConflict, Message: "This user was removed; a removed user cannot be changed."}
	}
	access := h.fieldAccess(c)
	if err := refuseBlindEdit(access); err != nil {
		return err
	}
	ident, err := h.DB.Identity(u)
	if err != nil {
		return err
	}
	f := pages.UserFormView{User: u, Version: u.Version, Values: formValuesOf(ident), CSRFToken: current.CSRFToken(c)}
	f.StoredSSN, f.StoredDOB = storedSealed(access, ident)
	return render.Page(c, http.StatusOK, "Edit user "+strconv.FormatInt(u.ID, 10), pages.UserEditPage(f))
}

// UserUpdate saves the identity (POST /users/:id). If someone changed the
// user since the form was opened it answers 409 with what they changed,
// keeping what was typed; nothing is overwritten.
func (h *Handler) UserUpdate(c *fiber.Ctx) error {
	u, err := h.endUserParam(c)
	if err != nil {
		return err
	}
	access := h.fieldAccess(c)
	if err := refuseBlindEdit(access); err != nil {
		return err
	}
	values := userFormValues(c)
	version, _ := strconv.Atoi(c.FormValue("version"))
	clearSSN, clearDOB := c.FormValue("clear_ssn") != "", c.FormValue("clear_dob") != ""
	ident := values.Identity()
	keep := models.KeepPII{SSN: !clearSSN, DateOfBirth: !clearDOB}
	updated, changed, err := h.DB.UpdateEndUserKeeping(c.UserContext(), current.Origin(c), u.ID, version, ident, keep)
	if err == nil {
		if changed {
			current.AddFlash(c, "Saved the identity of user "+strconv.FormatInt(u.ID, 10)+".")
		} else {
			current.AddFlash(c, "No changes to save: the identity of user "+strconv.FormatInt(u.ID, 10)+" is as it was.")
		}
		return redirect(c, "/users/"+strconv.FormatInt(updated.ID, 10))
	}
	f := pages.UserFormView{User: u, Version: version, Values: values, CSRFToken: current.CSRFToken(c),
		ClearSSN: clearSSN, ClearDOB: clearDOB}
	if stored, err := h.DB.Identity(u); err == nil {
		f.StoredSSN, f.StoredDOB = storedSealed(access, stored)
	}
	var merr *models.Error
	var stale *models.StaleUpdateError
	status := http.StatusUnprocessableEntity
	switch {
	case errors.As(err, &stale):
		status = http.StatusConflict
		cur, ierr := h.DB.Identity(stale.Current)
		if ierr != nil {
			return ierr
		}
		// Submitting again applies on top of their version.
		f.Version = stale.Current.Version
		f.Conflict = &pages.ConflictView{Changed: stale.Changed, Current: access.Identity(cur),
			Version: stale.Current.Version, ReloadTo: "/users/" + strconv.FormatInt(u.ID, 10) + "/edit"}
	case errors.As(err, &merr) && len(merr.Fields) > 0:
		f.Errors, f.Message = merr.Fields, merr.Message
	default:
		return err
	}
	stayOn(c, "/users/"+strconv.FormatInt(u.ID, 10)+"/edit")
	if current.IsHTMX(c) {
		return render.Fragment(c, status, pages.UserForm(f))
	}
	return render.Page(c, status, "Edit user "+strconv.FormatInt(u.ID, 10), pages.UserEditPage(f))
}
