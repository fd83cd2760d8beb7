package handlers

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// auditFilterInput reads the filter fields from the query string or a
// posted form, copied out of fasthttp's buffers.
func auditFilterInput(get func(key string, def ...string) string) models.AuditFilterInput {
	v := func(k string) string { return utils.CopyString(get(k)) }
	return models.AuditFilterInput{Actor: v("actor"), Action: v("action"), TargetType: v("target_type"),
		TargetID: v("target_id"), From: v("from"), To: v("to"), RequestID: v("request_id"), IP: v("ip"),
		Accessed: v("accessed")}
}

// AuditList is the audit log (GET /audit): newest first, filtered by the
// URL, keyset paged. htmx requests from the filter and the pager get the
// results only; a bad filter value answers 422 with the message beside
// its field.
func (h *Handler) AuditList(c *fiber.Ctx) error {
	in := auditFilterInput(c.Query)
	limit, _ := strconv.Atoi(c.Query("limit"))
	v := pages.AuditListView{Input: in, Limit: effectiveLimit(limit), CSRFToken: current.CSRFToken(c), Zone: current.Location(c)}
	status := http.StatusOK
	f, err := models.ParseAuditFilter(in)
	var merr *models.Error
	switch {
	case errors.As(err, &merr) && merr.Kind == models.KindInvalid:
		v.Errors, status = merr.Fields, http.StatusUnprocessableEntity
	case err != nil:
		return err
	default:
		req := models.AuditPageRequest{Filter: f, Cursor: utils.CopyString(c.Query("cursor")), Limit: v.Limit}
		page, err := h.DB.ListAudit(models.ReplicaReads(c.UserContext()), req)
		if err != nil {
			return err
		}
		v.Filter = f
		access := h.fieldAccess(c)
		if v.Rows, err = h.auditRows(c.UserContext(), access, page.Entries); err != nil {
			return err
		}
		q := f.Values()
		setUnlessDefault(q, "limit", strconv.Itoa(v.Limit), strconv.Itoa(models.PageSizes[0]))
		v.NextURL, v.PrevURL = pageURL("/audit", q, page.Next), pageURL("/audit", q, page.Prev)
	}
	if current.IsHTMX(c) && c.Get("HX-Target") == "audit-results" {
		return render.Fragment(c, status, pages.AuditResults(v, true))
	}
	return render.Page(c, status, "Audit log", pages.AuditList(v))
}

func effectiveLimit(n int) int {
	for _, s := range models.PageSizes {
		if n == s {
			return n
		}
	}
	return models.PageSizes[0]
}

// auditRows names member actors by their email address.
// Fields are the changed fields the member's field access lets them know
// of.
func (h *Handler) auditRows(ctx context.Context, access models.FieldAccess, entries []models.AuditEntry) ([]pages.AuditRow, error) {
	var memberIDs, keyIDs []string
	for _, e := range entries {
		switch e.ActorType {
		case models.ActorMember:
			memberIDs = append(memberIDs, e.ActorID)
		case models.ActorAPIKey:
			keyIDs = append(keyIDs, e.ActorID)
		}
	}
	emails, err := h.DB.MemberEmails(ctx, memberIDs)
	if err != nil {
		return nil, err
	}
	keys, err := h.DB.APIKeyLabels(ctx, keyIDs)
	if err != nil {
		return nil, err
	}
	out := make([]pages.AuditRow, len(entries))
	for i, e := range entries {
		out[i] = pages.AuditRow{Entry: e, Actor: actorLabel(e, emails, keys), Fields: access.ChangedFields(&e)}
	}
	return out, nil
}

// actorLabel names an entry's actor for people: a member by email, an API
// key by its name and client_id.
func actorLabel(e models.AuditEntry, emails, keys map[string]string) string {
	if email, ok := emails[e.ActorID]; ok && e.ActorType == models.ActorMember {
		return email
	}
	if label, ok := keys[e.ActorID]; ok && e.ActorType == models.ActorAPIKey {
		return label
	}
	if e.ActorID == "" {
		return string(e.ActorType)
	}
	return string(e.ActorType) + " " + e.ActorID
}
