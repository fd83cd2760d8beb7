package handlers

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// The exports (audit log, users) share how they stream: CSV or JSON lines,
// written row by row and flushed in batches, so the whole result is never
// in memory, with at most maxExports streaming at once.

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
	// maxExports is how many exports may stream at once in this process:
	// each holds a database connection for as long as its client reads, so
	// a burst of them would take the pool from the pages.
	maxExports = 4
)

// exportGate counts the reads of a whole selection running at once (the
// exports streaming, the exact counts of a batch's confirmation); its zero
// value is ready.
type exportGate struct {
	mu      sync.Mutex
	running int
}

// Refusals of a full gate.
const (
	exportsBusy = "Other exports are running; try again in a minute, when one has finished. Nothing was exported."
	countsBusy  = "Other selections are being counted; try again in a moment."
)

// enter takes a place, or refuses with 429 (a Retry-After and the busy
// message) when all are taken; the caller must call the returned release.
func (g *exportGate) enter(c *fiber.Ctx, busy string) (release func(), err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running >= maxExports {
		c.Set(fiber.HeaderRetryAfter, "30")
		return nil, &models.Error{Kind: models.KindBusy, Message: busy}
	}
	g.running++
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			g.running--
			g.mu.Unlock()
		})
	}, nil
}

// exportFormat reads the posted format: csv or jsonl.
func exportFormat(c *fiber.Ctx) (string, error) {
	format := c.FormValue("format")
	if format != "csv" && format != "jsonl" {
		return "", &models.Error{Kind: models.KindInvalid, Message: "Choose CSV or JSON lines.",
			Fields: models.FieldErrors{"format": "Choose CSV or JSON lines."}}
	}
	return format, nil
}

// exportStream writes one export's rows.
type exportStream struct {
	w      *bufio.Writer
	conn   net.Conn
	format string
	csv    *csv.Writer
	json   *json.Encoder
	rows   int64
}

// streamExport answers with an attachment named name whose body run
// writes after the handler has returned. release gives back the export's
// place when the body is done. A failure once rows are out is logged and
// said at the end of the file, so nobody takes a cut-short export for a
// whole one.
func (h *Handler) streamExport(c *fiber.Ctx, what, name, format string, header []string, release func(),
	run func(ctx context.Context, s *exportStream) error) {
	contentType := "text/csv; charset=utf-8"
	if format == "jsonl" {
		contentType = "application/x-ndjson; charset=utf-8"
	}
	c.Set(fiber.HeaderContentType, contentType)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	conn := c.Context().Conn()
	requestID := current.RequestID(c)
	// The rows are read on the request's behalf: from a replica once it
	// has replayed the export's own audit entry.
	reads := models.ReplicaReads(c.UserContext())
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer release()
		ctx, cancel := context.WithTimeout(models.KeepReads(context.Background(), reads), exportTimeout)
		defer cancel()
		s := &exportStream{w: w, conn: conn, format: format, json: json.NewEncoder(w)}
		s.extendDeadline()
		err := s.header(header)
		if err == nil {
			err = run(ctx, s)
		}
		if err == nil {
			err = s.flush()
		}
		if err != nil {
			h.Logger.Error(what+" export stopped", "request_id", requestID, "rows", s.rows, "error", err.Error())
			s.writeError()
		}
	})
}

func (s *exportStream) header(columns []string) error {
	if s.format != "csv" {
		return nil
	}
	s.csv = csv.NewWriter(s.w)
	return s.csv.Write(columns)
}

// write adds one row: record as CSV, line as JSON.
func (s *exportStream) write(record func() []string, line any) error {
	var err error
	if s.csv != nil {
		err = s.csv.Write(record())
	} else {
		err = s.json.Encode(line)
	}
	if err != nil {
		return err
	}
	s.rows++
	if s.rows%exportFlushRows == 0 {
		return s.flush()
	}
	return nil
}

// flush sends what is buffered; an error means the client went away.
func (s *exportStream) flush() error {
	if s.csv != nil {
		s.csv.Flush()
		if err := s.csv.Error(); err != nil {
			return err
		}
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("client stopped reading: %w", err)
	}
	s.extendDeadline()
	return nil
}

func (s *exportStream) extendDeadline() {
	if s.conn != nil {
		_ = s.conn.SetWriteDeadline(time.Now().Add(exportStall))
	}
}

func (s *exportStream) writeError() {
	const msg = "export stopped before the end; this file is incomplete"
	if s.csv != nil {
		_ = s.csv.Write([]string{"#error", msg})
		s.csv.Flush()
	} else {
		_ = s.json.Encode(map[string]string{"error": msg})
	}
	_ = s.w.Flush()
}

// cell keeps a spreadsheet from running a value as a formula (a user
// agent, reason or name is typed by whoever sent the request): such a
// value is prefixed with an apostrophe. The JSON lines export keeps values
// as they are.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
