package handlers

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// TeamRoleChange gives a member another role (POST /team/:id/role). The
// last active admin cannot be demoted.
func (h *Handler) TeamRoleChange(c *fiber.Ctx) error {
	m, err := h.memberParam(c)
	if err != nil {
		return err
	}
	role := models.Role(c.FormValue("role"))
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
