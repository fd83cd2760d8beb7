package handlers

import (
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// TeamRoleChange gives a member another role (POST /team/:id/role). The
// last active admin cannot be demoted.
func (h *Handler) TeamRoleChange(c *fiber.Ctx) error {
	m, err := h.memberParam(c)
	if err != nil {
		return err
	}
	role := models.Role(utils.CopyString(c.FormValue("role")))
	if role == models.RoleAdmin && m.Role != models.RoleAdmin {
		if on, err := h.approvalsRequired(c.UserContext()); err != nil {
			return err
		} else if on {
			return h.requestApproval(c, memberAsk(m, models.ApproveMakeAdmin, "Make admin", "/role",
				"Make "+m.EmailAddress+" an admin?", map[string]string{"role": string(models.RoleAdmin)}))
		}
	}
	updated, err := h.DB.ChangeMemberRole(c.UserContext(), current.Origin(c), m.ID, role)
	if err == nil && updated.ID == current.Member(c).ID && updated.Role != models.RoleAdmin {
		// Admins only see the team: having given up the role, go home.
		current.AddFlash(c, "You are now "+updated.Role.Label()+".")
		return redirect(c, "/")
	}
	flash := ""
	if err == nil {
		flash = m.EmailAddress + " is now " + updated.Role.Label() + "."
	}
	return h.teamActionDone(c, m, err, flash)
}

// memberAsk is a request for approval of an action on a team member,
// posted to the action's own address (suffix) with hidden fields.
func memberAsk(m *models.TeamMember, action, title, suffix, question string, hidden map[string]string) approvalAsk {
	return approvalAsk{in: models.ApprovalInput{Action: action, TargetID: m.ID},
		page: pages.ApprovalFormView{Title: title, Action: "/team/" + m.ID + suffix, Back: "/team/" + m.ID,
			Question: question, Hidden: hidden}}
}
