package handlers

import (
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// ApprovalApprove approves another admin's request and carries it out
// (POST /approvals/:id/approve). A target changed since the request is a
// 409 that says what changed; a user_token or key secret it makes is
// shown once, here, to the admin who approved.
func (h *Handler) ApprovalApprove(c *fiber.Ctx) error {
	id, err := approvalID(c)
	if err != nil {
		return err
	}
	out, err := h.DB.ApproveRequest(c.UserContext(), current.Origin(c), id, utils.CopyString(c.FormValue("comment")))
	if err != nil {
		return err
	}
	r := out.Request
	switch {
	case out.UserToken != "":
		return render.Page(c, http.StatusOK, "Approved", pages.ApprovedSecret("Approved: "+r.Label(),
			"The new user_token of end user "+r.TargetID+".", out.UserToken, "/users/"+r.TargetID))
	case out.APIKey != nil:
		return render.Page(c, http.StatusOK, "Approved", pages.ApprovedSecret("Approved: "+r.Label(),
			"The secret of API key “"+out.APIKey.Key.Name+"” (client_id "+out.APIKey.Key.ClientID+").", out.APIKey.Secret, "/api-keys/"+r.TargetID))
	}
	current.AddFlash(c, "Approved and carried out: "+r.Label()+".")
	return redirect(c, "/approvals")
}

// approvalID reads the request's id from the path.
func approvalID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, &models.Error{Kind: models.KindNotFound, Message: "No such approval request."}
	}
	return id, nil
}
