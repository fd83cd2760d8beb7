package handlers

import (
	"context"

	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// auditHistory lists the newest entries a filter selects for a record's
// page: models.FilterForTarget for what happened to the record (also once
// it is removed), models.FilterForActor for what a member or key did.
func (h *Handler) auditHistory(ctx context.Context, access models.FieldAccess, f models.AuditFilter) ([]pages.HistoryEntry, error) {
	entries, err := h.DB.AuditHistory(ctx, f, historyLimit)
	if err != nil {
		return nil, err
	}
	rows, err := h.auditRows(ctx, access, entries)
	if err != nil {
		return nil, err
	}
	out := make([]pages.HistoryEntry, len(rows))
	for i, r := range rows {
		out[i] = pages.HistoryEntry(r)
	}
	return out, nil
}

// historyLimit is how many audit entries a record's page lists.
const historyLimit = 50

// history lists the audit entries about a record, naming the members and
// API keys who acted. Views and searches name no target id (the page's
// data access list finds them), so they do not crowd the changes out.
func (h *Handler) history(ctx context.Context, access models.FieldAccess, t models.Target) ([]pages.HistoryEntry, error) {
	return h.auditHistory(ctx, access, models.FilterForTarget(t))
}
