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

// ApprovalDeny denies another admin's request with a comment (POST
// /approvals/:id/deny); without one, the page comes back as 422 with the
// message beside that request's comment.
func (h *Handler) ApprovalDeny(c *fiber.Ctx) error {
	id, err := approvalID(c)
	if err != nil {
		return err
	}
	comment := utils.CopyString(c.FormValue("comment"))
	r, err := h.DB.DenyRequest(c.UserContext(), current.Origin(c), id, comment)
	var merr *models.Error
	if errors.As(err, &merr) && merr.Fields["comment"] != "" {
		v, verr := h.approvalsView(c)
		if verr != nil {
			return verr
		}
		for i := range v.Pending {
			if v.Pending[i].Request.ID == id {
				v.Pending[i].Comment, v.Pending[i].CommentError = comment, merr.Fields["comment"]
			}
		}
		stayOn(c, "/approvals")
		return render.Page(c, http.StatusUnprocessableEntity, "Approvals", pages.Approvals(*v))
	}
	if err != nil {
		return err
	}
	current.AddFlash(c, "Denied: "+r.Label()+".")
	return redirect(c, "/approvals")
}
