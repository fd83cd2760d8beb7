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
	if on, err := h.approvalsRequired(c.UserContext()); err != nil {
		return err
	} else if on {
		ask := userAsk(u, models.ApproveUserRemove, "Remove user", "/remove", "Remove ")
		ask.page.CSRFToken = current.CSRFToken(c)
		return render.Page(c, http.StatusOK, ask.page.Title, pages.ApprovalRequestPage(ask.page))
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
	if on, err := h.approvalsRequired(c.UserContext()); err != nil {
		return err
	} else if on {
		return h.requestApproval(c, userAsk(u, models.ApproveUserRemove, "Remove user", "/remove", "Remove "))
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

// userAsk is a request for approval of an action on an end user, posted
// to the action's own address (suffix).
func userAsk(u *models.EndUser, action, title, suffix, verb string) approvalAsk {
	id := strconv.FormatInt(u.ID, 10)
	return approvalAsk{in: models.ApprovalInput{Action: action, TargetID: id},
		page: pages.ApprovalFormView{Title: title, Action: "/users/" + id + suffix, Back: "/users/" + id,
			Question: verb + "end user " + id + " (" + u.ClientUserID + ")?"}}
}
