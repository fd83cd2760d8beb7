package handlers

import (
	"context"
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// While approvals are required, the POST of each action that needs one
// asks for it instead of acting: the same address, the same button, with
// a reason. Requests are decided on /approvals (approval_list.go).

// approvalsRequired reports whether the actions that need a second admin
// wait for one now.
func (h *Handler) approvalsRequired(ctx context.Context) (bool, error) {
	return h.DB.ApprovalsRequired(ctx)
}

// approvalAsk is one action's request for approval, and its page should
// the request be refused as sent.
type approvalAsk struct {
	in   models.ApprovalInput
	page pages.ApprovalFormView
}

// requestApproval writes the request with the form's reason and returns
// to the target's page; a missing or unreadable reason is 422 with the
// form again, the reason kept and the message beside it.
func (h *Handler) requestApproval(c *fiber.Ctx, ask approvalAsk) error {
	ask.in.Reason = utils.CopyString(c.FormValue("reason"))
	r, err := h.DB.RequestApproval(c.UserContext(), current.Origin(c), ask.in)
	var merr *models.Error
	if errors.As(err, &merr) && merr.Fields["reason"] != "" {
		ask.page.Reason, ask.page.Error, ask.page.CSRFToken = ask.in.Reason, merr.Fields["reason"], current.CSRFToken(c)
		stayOn(c, ask.page.Back)
		return render.Page(c, http.StatusUnprocessableEntity, ask.page.Title, pages.ApprovalRequestPage(ask.page))
	}
	if err != nil {
		return err
	}
	current.AddFlashLink(c, "Approval requested: "+r.Label()+". Another admin decides it.", "/approvals", "Approvals")
	return redirect(c, ask.page.Back)
}

// targetApprovals lists the newest requests about a record for its page,
// for admins (who ask and decide them).
func (h *Handler) targetApprovals(ctx context.Context, me *models.TeamMember, t models.Target) ([]pages.ApprovalRow, error) {
	if me.Role != models.RoleAdmin {
		return nil, nil
	}
	rs, err := h.DB.ApprovalsFor(ctx, t, 5)
	if err != nil {
		return nil, err
	}
	return h.approvalRows(ctx, me, rs)
}

// approvalRows names the members who asked and decided.
func (h *Handler) approvalRows(ctx context.Context, me *models.TeamMember, rs []models.ApprovalRequest) ([]pages.ApprovalRow, error) {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.RequestedBy)
		if r.DecidedBy != "" {
			ids = append(ids, r.DecidedBy)
		}
	}
	emails, err := h.DB.MemberEmails(ctx, ids)
	if err != nil {
		return nil, err
	}
	now := h.DB.ApprovalNow()
	out := make([]pages.ApprovalRow, len(rs))
	for i, r := range rs {
		out[i] = pages.ApprovalRow{Request: r, State: r.StateAt(now), RequestedBy: orID(emails, r.RequestedBy),
			Mine: r.RequestedBy == me.ID}
		if r.DecidedBy != "" {
			out[i].DecidedBy = orID(emails, r.DecidedBy)
		}
	}
	return out, nil
}

// orID is a member's email, or their id when they are gone.
func orID(emails map[string]string, id string) string {
	if e, ok := emails[id]; ok {
		return e
	}
	return id
}
