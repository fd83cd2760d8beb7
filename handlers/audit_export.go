package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// exportColumns is the export's column order (CSV header, JSON key order).
// It only ever grows at the end.
var exportColumns = []string{"seq", "occurred_at", "actor_type", "actor_id", "actor_email", "action",
	"target_type", "target_id", "request_id", "ip", "user_agent", "reason", "diff", "prev_hash", "hash"}

// exportLine is one JSON line; its field order is exportColumns.
type exportLine struct {
	Seq        int64            `json:"seq"`
	OccurredAt string           `json:"occurred_at"`
	ActorType  string           `json:"actor_type"`
	ActorID    string           `json:"actor_id"`
	ActorEmail string           `json:"actor_email"`
	Action     string           `json:"action"`
	TargetType string           `json:"target_type"`
	TargetID   string           `json:"target_id"`
	RequestID  string           `json:"request_id"`
	IP         string           `json:"ip"`
	UserAgent  string           `json:"user_agent"`
	Reason     string           `json:"reason"`
	Diff       models.AuditDiff `json:"diff"`
	PrevHash   string           `json:"prev_hash"`
	Hash       string           `json:"hash"`
}

// AuditExport streams what the posted filter selects (POST /audit/export)
// as CSV or JSON lines, newest first, row by row: the whole result is never
// in memory, diffs as the member's field access shows them. The export is itself audited (audit.export, with the filter)
// before the first row goes out, and covers the log up to that entry.
func (h *Handler) AuditExport(c *fiber.Ctx) error {
	format, err := exportFormat(c)
	if err != nil {
		return err
	}
	f, err := models.ParseAuditFilter(auditFilterInput(c.FormValue))
	if err != nil {
		return err
	}
	access := h.fieldAccess(c)
	release, err := h.exports.enter(c, exportsBusy)
	if err != nil {
		return err
	}
	upTo, err := h.DB.RecordAuditExport(c.UserContext(), current.Origin(c), f, format)
	if err != nil {
		release()
		return err
	}
	name := fmt.Sprintf("ledgerdesk-audit-%s-to-seq-%d.%s", models.Now().Format("20060102T150405Z"), upTo, format)
	h.streamExport(c, "audit", name, format, exportColumns, release, func(ctx context.Context, s *exportStream) error {
		emails := memberEmails{db: h.DB, known: map[string]string{}}
		return h.DB.EachAuditEntry(ctx, f, upTo, func(e *models.AuditEntry) error {
			email, err := emails.of(ctx, e)
			if err != nil {
				return err
			}
			line := exportLine{Seq: e.Seq, OccurredAt: e.OccurredAt.UTC().Format(time.RFC3339Nano),
				ActorType: string(e.ActorType), ActorID: e.ActorID, ActorEmail: email, Action: e.Action,
				TargetType: e.TargetType, TargetID: e.TargetID, RequestID: e.RequestID, IP: e.IP,
				UserAgent: e.UserAgent, Reason: e.Reason, Diff: access.Diff(e.RedactedDiff()), PrevHash: e.PrevHash, Hash: e.Hash}
			return s.write(line.csvRecord, line)
		})
	})
	return nil
}

// memberEmails looks up each actor's email once per export.
type memberEmails struct {
	db    *models.DB
	known map[string]string // member id → email
}

func (m memberEmails) of(ctx context.Context, e *models.AuditEntry) (string, error) {
	if e.ActorType != models.ActorMember {
		return "", nil
	}
	if email, ok := m.known[e.ActorID]; ok {
		return email, nil
	}
	found, err := m.db.MemberEmails(ctx, []string{e.ActorID})
	if err != nil {
		return "", err
	}
	m.known[e.ActorID] = found[e.ActorID]
	return found[e.ActorID], nil
}

func (l exportLine) csvRecord() []string {
	diff, _ := json.Marshal(l.Diff)
	return []string{strconv.FormatInt(l.Seq, 10), l.OccurredAt, l.ActorType, cell(l.ActorID), cell(l.ActorEmail),
		cell(l.Action), cell(l.TargetType), cell(l.TargetID), cell(l.RequestID), cell(l.IP), cell(l.UserAgent),
		cell(l.Reason), string(diff), l.PrevHash, l.Hash}
}
