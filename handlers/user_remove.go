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

// UserRemoveConfirm asks to type the client_user_id (GET /users/:id/remove).
func (h *Handler) UserRemoveConfirm(c *fiber.Ctx) error {
	u, err := h.endUserParam(c)
	if err != nil {
		return err
	}
	if u.Removed() {
		return redirect(c, "/users/"+strconv.FormatInt(u.ID, 10))
	}
	return render.Page(c, http.StatusOK, "Remove user", pages.UserRemovePage(pages.UserRemoveView{User: u, CSRFToken: current.CSRFToken(c)}))
}

// UserRemove removes the user (POST /users/:id/remove): items deleted,
// identity erased, the tombstone kept.
func (h *Handler) UserRemove(c *fiber.Ctx) error {
	u, err := h.endUserParam(c)
	if err != nil {
		return err
	}
	confirm := utils.CopyString(c.FormValue("confirm"))
	err = h.DB.RemoveEndUser(c.UserContext(), current.Origin(c), u.ID, confirm)
	var merr *models.Error
	if errors.As(err, &merr) && merr.Kind == models.KindInvalid {
		return render.Page(c, http.StatusUnprocessableEntity, "Remove user", pages.UserRemovePage(pages.UserRemoveView{
			User: u, Confirm: confirm, Error: merr.Fields["confirm"], CSRFToken: current.CSRFToken(c)}))
	}
	if err != nil {
		return err
	}
	current.AddFlash(c, "User "+strconv.FormatInt(u.ID, 10)+" was removed.")
	return redirect(c, "/users/"+strconv.FormatInt(u.ID, 10))
}
