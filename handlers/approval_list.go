package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/views/pages"
)

// recentDecisions is how many decided requests the approvals page lists;
// the audit log keeps every one.
const recentDecisions = 25

// ApprovalList is the pending-approvals page (GET /approvals, admins):
// what waits, with approve and deny forms on others' requests, and the
// latest decisions.
func (h *Handler) ApprovalList(c *fiber.Ctx) error {
	v, err := h.approvalsView(c)
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "Approvals", pages.Approvals(*v))
}

func (h *Handler) approvalsView(c *fiber.Ctx) (*pages.ApprovalsView, error) {
	ctx := c.UserContext()
	pending, err := h.DB.PendingApprovals(ctx)
	if err != nil {
		return nil, err
	}
	recent, err := h.DB.RecentDecisions(ctx, recentDecisions)
	if err != nil {
		return nil, err
	}
	required, err := h.approvalsRequired(ctx)
	if err != nil {
		return nil, err
	}
	v := &pages.ApprovalsView{Required: required, CSRFToken: current.CSRFToken(c), Zone: current.Location(c)}
	if v.Pending, err = h.approvalRows(ctx, current.Member(c), pending); err != nil {
		return nil, err
	}
	if v.Recent, err = h.approvalRows(ctx, current.Member(c), recent); err != nil {
		return nil, err
	}
	return v, nil
}
