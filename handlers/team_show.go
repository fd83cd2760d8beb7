package handlers

import (
	"context"
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// TeamShow is a member's page (GET /team/:id): role, status, sessions,
// and what they did and what was done to them.
func (h *Handler) TeamShow(c *fiber.Ctx) error {
	m, err := h.memberParam(c)
	if err != nil {
		return err
	}
	return h.renderMember(c, http.StatusOK, m, "")
}

func (h *Handler) renderMember(c *fiber.Ctx, status int, m *models.TeamMember, errMsg string) error {
	ctx := c.UserContext()
	sessions, err := h.DB.SessionsOfMember(ctx, m.ID)
	if err != nil {
		return err
	}
	access := h.fieldAccess(c)
	activity, err := h.memberActivity(ctx, access, m.ID)
	if err != nil {
		return err
	}
	enrolledAt, err := h.DB.MFAEnrolledAt(ctx, m.ID)
	if err != nil {
		return err
	}
	required, err := h.approvalsRequired(ctx)
	if err != nil {
		return err
	}
	approvals, err := h.targetApprovals(ctx, current.Member(c), m.AuditTarget())
	if err != nil {
		return err
	}
	v := pages.TeamMemberView{
		ApprovalsRequired: required, Approvals: approvals,
		MFAEnrolledAt: enrolledAt,
		Member:        m, Sessions: h.sessionRows(c, sessions), Activity: activity,
		IsSelf: current.Member(c).ID == m.ID, Error: errMsg, CSRFToken: current.CSRFToken(c),
		Now: models.Now(), Zone: current.Location(c),
	}
	if m.Status == models.MemberInvited {
		inv, err := h.DB.PendingInvitation(ctx, m.ID)
		if err != nil {
			return err
		}
		if inv != nil {
			v.InvitationExpires = &inv.ExpiresAt
			v.InvitationExpired = !models.Now().Before(inv.ExpiresAt)
		}
	}
	return render.Page(c, status, m.EmailAddress, pages.TeamMember(v))
}

// memberActivity names the actors (as every audit list does) and the
// members among the targets.
func (h *Handler) memberActivity(ctx context.Context, access models.FieldAccess, memberID string) ([]pages.ActivityEntry, error) {
	entries, err := h.DB.MemberActivity(ctx, memberID, historyLimit)
	if err != nil {
		return nil, err
	}
	rows, err := h.auditRows(ctx, access, entries)
	if err != nil {
		return nil, err
	}
	var targets []string
	for _, e := range entries {
		if e.TargetType == "team_member" {
			targets = append(targets, e.TargetID)
		}
	}
	emails, err := h.DB.MemberEmails(ctx, targets)
	if err != nil {
		return nil, err
	}
	out := make([]pages.ActivityEntry, len(rows))
	for i, r := range rows {
		e := r.Entry
		target := e.TargetType + " " + e.TargetID
		if email, ok := emails[e.TargetID]; ok && e.TargetType == "team_member" {
			target = email
		}
		if e.TargetType == "" {
			target = ""
		}
		out[i] = pages.ActivityEntry{Entry: e, Actor: r.Actor, Target: target, Fields: r.Fields}
	}
	return out, nil
}

// sessionRows lists the sessions still alive, marking the request's own.
func (h *Handler) sessionRows(c *fiber.Ctx, sessions []models.Session) []pages.SessionRow {
	now := models.Now()
	mine := ""
	if row := current.SessionRow(c); row != nil {
		mine = row.IDHash
	}
	var out []pages.SessionRow
	for _, s := range sessions {
		if !s.ActiveAt(now, h.Sessions.Limits()) {
			continue
		}
		out = append(out, pages.SessionRow{Handle: s.Handle(), Device: s.Device(), IP: s.IP,
			CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, Current: s.IDHash == mine})
	}
	return out
}

// teamActionDone answers a team action: on success a flash and back to
// the member's page; a refusal (last admin, wrong status) shows its
// message on that page with nothing changed, or in the flash area for
// htmx.
func (h *Handler) teamActionDone(c *fiber.Ctx, m *models.TeamMember, err error, flash string) error {
	if err == nil {
		current.AddFlash(c, flash)
		return redirect(c, "/team/"+m.ID)
	}
	var merr *models.Error
	if !errors.As(err, &merr) {
		return err
	}
	if current.IsHTMX(c) {
		// The refusal shows in the flash area, over the member's page.
		stayOn(c, "/team/"+m.ID)
		return err
	}
	status := http.StatusConflict
	switch merr.Kind {
	case models.KindConflict:
	case models.KindForbidden:
		status = http.StatusForbidden
	case models.KindInvalid:
		status = http.StatusUnprocessableEntity
	default:
		return err
	}
	fresh, lerr := h.DB.MemberByID(c.UserContext(), m.ID)
	if lerr != nil {
		return lerr
	}
	msg := merr.Message
	if len(merr.Fields) > 0 {
		for _, f := range merr.Fields {
			msg = f
		}
	}
	return h.renderMember(c, status, fresh, msg)
}
