package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// Home is the overview a member lands on (GET /): figures about end users
// and items (stored by a schedule, see models.Overview), the live ones the
// member's role may follow, the audit chain's state and the member's own
// recent activity.
func (h *Handler) Home(c *fiber.Ctx) error {
	m := current.Member(c)
	ctx := c.UserContext()
	figures, err := h.DB.Overview(ctx)
	if err != nil {
		return err
	}
	live, err := h.DB.ReadOverviewLive(ctx, models.Now())
	if err != nil {
		return err
	}
	head, err := h.DB.AuditHead(ctx)
	if err != nil {
		return err
	}
	activity, err := h.DB.AuditHistory(ctx, models.FilterForActor(m.AsActor()), 10)
	if err != nil {
		return err
	}
	verify, err := h.verifyStatus(ctx)
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "Overview", pages.Home(pages.HomeView{
		Email: m.EmailAddress, Role: m.Role, Figures: figures, Live: live, Head: head,
		Verify: verify, MyActivity: activity, Now: models.Now(),
		Zone: current.Location(c),
	}))
}
