package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// AuditChart is the activity chart for a filter (GET /audit/chart):
// entries per UTC day over the last 30 days, drawn as SVG on the server.
// The list loads it after its rows, so counting never delays the page.
func (h *Handler) AuditChart(c *fiber.Ctx) error {
	f, err := models.ParseAuditFilter(auditFilterInput(c.Query))
	if err != nil {
		return err
	}
	days, err := h.DB.AuditDailyCounts(models.ReplicaReads(c.UserContext()), f, models.Now(), models.ChartDays)
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "Audit activity", pages.AuditChart(days))
}
