package handlers

import (
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// AuditDiff shows one entry's before/after (GET /audit/:seq/diff), personal
// values redacted and the fields the policy hides from the member left
// out: the row's expansion for htmx, the entry's own page
// otherwise.
func (h *Handler) AuditDiff(c *fiber.Ctx) error {
	seq, err := idParam(c, "seq")
	if err != nil {
		return err
	}
	e, err := h.DB.AuditEntryBySeq(c.UserContext(), seq)
	if err != nil {
		return err
	}
	access := h.fieldAccess(c)
	diff := access.Diff(e.RedactedDiff())
	if current.IsHTMX(c) {
		return render.Fragment(c, http.StatusOK, pages.AuditDiffTable(diff))
	}
	rows, err := h.auditRows(c.UserContext(), access, []models.AuditEntry{*e})
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "Audit entry "+strconv.FormatInt(seq, 10), pages.AuditEntryPage(rows[0], diff, current.Location(c)))
}
