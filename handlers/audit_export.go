package handlers

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

const (
	// exportTimeout bounds an export's database work. The request's own
	// timeout ends when the handler returns, before the body is streamed.
	exportTimeout = 30 * time.Minute
	// exportStall is how long the client may take to accept the next
	// batch: each flush pushes the connection's write deadline this far,
	// so a long export outlives the server's WriteTimeout while a stalled
	// client still times out.
	exportStall = 60 * time.Second
	// exportFlushRows is how many rows go out per flush.
	exportFlushRows = 500
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
// in memory. The export is itself audited (audit.export, with the filter)
// before the first row goes out, and covers the log up to that entry.
func (h *Handler) AuditExport(c *fiber.Ctx) error {
	format := utils.CopyString(c.FormValue("format"))
	if format != "csv" && format != "jsonl" {
		return &models.Error{Kind: models.KindInvalid, Message: "Choose CSV or JSON lines.",
			Fields: models.FieldErrors{"format": "Choose CSV or JSON lines."}}
	}
	f, err := models.ParseAuditFilter(auditFilterInput(c.FormValue))
	if err != nil {
		return err
	}
	upTo, err := h.DB.RecordAuditExport(c.UserContext(), current.Origin(c), f, format)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("ledgerdesk-audit-%s-to-seq-%d.%s", models.Now().Format("20060102T150405Z"), upTo, format)
	contentType := "text/csv; charset=utf-8"
	if format == "jsonl" {
		contentType = "application/x-ndjson; charset=utf-8"
	}
	c.Set(fiber.HeaderContentType, contentType)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")

	conn := c.Context().Conn()
	requestID := current.RequestID(c)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
		defer cancel()
		ex := &exporter{db: h.DB, w: w, conn: conn, format: format, emails: map[string]string{}}
		if err := ex.run(ctx, f, upTo); err != nil {
			// The status line is long gone: say so at the end of the file,
			// so nobody takes a cut-short export for a whole one.
			h.Logger.Error("audit export stopped", "request_id", requestID, "rows", ex.rows, "error", err.Error())
			ex.writeError()
		}
	})
	return nil
}

// exporter writes one export.
type exporter struct {
	db     *models.DB
	w      *bufio.Writer
	conn   net.Conn
	format string
	csv    *csv.Writer
	emails map[string]string // member id → email, looked up once each
	rows   int64
}

func (ex *exporter) run(ctx context.Context, f models.AuditFilter, upTo int64) error {
	ex.extendDeadline()
	if ex.format == "csv" {
		ex.csv = csv.NewWriter(ex.w)
		if err := ex.csv.Write(exportColumns); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(ex.w)
	err := ex.db.EachAuditEntry(ctx, f, upTo, func(e *models.AuditEntry) error {
		email, err := ex.email(ctx, e)
		if err != nil {
			return err
		}
		line := exportLine{Seq: e.Seq, OccurredAt: e.OccurredAt.UTC().Format(time.RFC3339Nano),
			ActorType: string(e.ActorType), ActorID: e.ActorID, ActorEmail: email, Action: e.Action,
			TargetType: e.TargetType, TargetID: e.TargetID, RequestID: e.RequestID, IP: e.IP,
			UserAgent: e.UserAgent, Reason: e.Reason, Diff: e.RedactedDiff(), PrevHash: e.PrevHash, Hash: e.Hash}
		if ex.format == "csv" {
			err = ex.csv.Write(line.csvRecord())
		} else {
			err = enc.Encode(line)
		}
		if err != nil {
			return err
		}
		ex.rows++
		if ex.rows%exportFlushRows == 0 {
			return ex.flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return ex.flush()
}

// flush sends what is buffered; an error means the client went away.
func (ex *exporter) flush() error {
	if ex.csv != nil {
		ex.csv.Flush()
		if err := ex.csv.Error(); err != nil {
			return err
		}
	}
	if err := ex.w.Flush(); err != nil {
		return fmt.Errorf("client stopped reading: %w", err)
	}
	ex.extendDeadline()
	return nil
}

func (ex *exporter) extendDeadline() {
	if ex.conn != nil {
		_ = ex.conn.SetWriteDeadline(time.Now().Add(exportStall))
	}
}

func (ex *exporter) writeError() {
	const msg = "export stopped before the end; this file is incomplete"
	if ex.csv != nil {
		_ = ex.csv.Write([]string{"#error", msg})
		ex.csv.Flush()
	} else {
		_ = json.NewEncoder(ex.w).Encode(map[string]string{"error": msg})
	}
	_ = ex.w.Flush()
}

func (ex *exporter) email(ctx context.Context, e *models.AuditEntry) (string, error) {
	if e.ActorType != models.ActorMember {
		return "", nil
	}
	if email, ok := ex.emails[e.ActorID]; ok {
		return email, nil
	}
	found, err := ex.db.MemberEmails(ctx, []string{e.ActorID})
	if err != nil {
		return "", err
	}
	ex.emails[e.ActorID] = found[e.ActorID]
	return found[e.ActorID], nil
}

func (l exportLine) csvRecord() []string {
	diff, _ := json.Marshal(l.Diff)
	return []string{strconv.FormatInt(l.Seq, 10), l.OccurredAt, l.ActorType, cell(l.ActorID), cell(l.ActorEmail),
		cell(l.Action), cell(l.TargetType), cell(l.TargetID), cell(l.RequestID), cell(l.IP), cell(l.UserAgent),
		cell(l.Reason), string(diff), l.PrevHash, l.Hash}
}

// cell keeps a spreadsheet from running a value as a formula (a user
// agent or reason is typed by whoever sent the request): such a value is
// prefixed with an apostrophe. The JSON lines export keeps values as they
// are.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
