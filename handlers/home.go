package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// capabilities says, per role, what the portal lets the member do.
var capabilities = map[models.Role][]string{
	models.RoleAdmin: {
		"See end users, their items and the audit log",
		"Reveal a full SSN or date of birth, with a reason",
		"Create, update and remove end users; run sandbox actions",
		"Manage team members, API keys and webhooks",
		"Export the audit log",
	},
	models.RoleCompliance: {
		"See end users, their items and the audit log",
		"Reveal a full SSN or date of birth, with a reason",
		"Export the audit log",
	},
	models.RoleAuditor: {
		"See end users, their items and the audit log (personal data masked)",
		"Export the audit log",
	},
}

// Home is the overview a member lands on (GET /).
func (h *Handler) Home(c *fiber.Ctx) error {
	m := current.Member(c)
	ctx := c.UserContext()
	head, err := h.DB.AuditHead(ctx)
	if err != nil {
		return err
	}
	activity, err := h.DB.AuditHistory(ctx, models.FilterForActor(m.AsActor()), 10)
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "Overview", pages.Home(pages.HomeView{
		Email: m.EmailAddress, Role: m.Role, Can: capabilities[m.Role], Head: head, MyActivity: activity,
	}))
}
