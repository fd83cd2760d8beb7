package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/views/pages"
)

// checkpointsShown is how many checkpoints the integrity page lists.
const checkpointsShown = 20

// AuditIntegrity is the integrity page (GET /audit/integrity): the chain
// head, the background verification and the signed checkpoints.
func (h *Handler) AuditIntegrity(c *fiber.Ctx) error {
	ctx := c.UserContext()
	head, err := h.DB.AuditHead(ctx)
	if err != nil {
		return err
	}
	cps, err := h.DB.ListCheckpoints(ctx, checkpointsShown)
	if err != nil {
		return err
	}
	verify, err := h.verifyStatus(ctx)
	if err != nil {
		return err
	}
	v := pages.AuditIntegrityView{Head: head, Checkpoints: cps, Verify: verify, CSRFToken: current.CSRFToken(c),
		Zone: current.Location(c)}
	return render.Page(c, http.StatusOK, "Audit integrity", pages.AuditIntegrity(v))
}
