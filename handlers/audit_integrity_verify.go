package handlers

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// verifyTimeout bounds a background verification.
const verifyTimeout = 10 * time.Minute

// auditVerifier runs one chain verification at a time in the background
// of this process and keeps the latest outcome for the integrity page to
// poll. Its zero value is ready.
type auditVerifier struct {
	mu     sync.Mutex
	status pages.VerifyStatus
}

func (v *auditVerifier) snapshot() pages.VerifyStatus {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.status
}

// start begins a verification unless one is running, and returns the
// status either way.
func (v *auditVerifier) start(db *models.DB, total int64, by string, log func(error)) pages.VerifyStatus {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.status.Running {
		return v.status
	}
	v.status = pages.VerifyStatus{Running: true, Total: total, StartedAt: models.Now(), StartedBy: by}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), verifyTimeout)
		defer cancel()
		res, err := db.VerifyAuditChain(ctx, func(checked int64) {
			v.mu.Lock()
			v.status.Checked = checked
			v.mu.Unlock()
		})
		v.mu.Lock()
		defer v.mu.Unlock()
		v.status.Running, v.status.Done = false, true
		v.status.Duration = time.Since(v.status.StartedAt)
		if err != nil {
			log(err)
			v.status.Failed = true
			return
		}
		v.status.Result = res
		v.status.Checked = res.Checked
	}()
	return v.status
}

// AuditVerifyStart starts verifying the whole chain in the background
// (POST /audit/integrity/verify) and answers with its progress, which
// polls itself until the result is in. It reads the log only.
func (h *Handler) AuditVerifyStart(c *fiber.Ctx) error {
	head, err := h.DB.AuditHead(c.UserContext())
	if err != nil {
		return err
	}
	requestID := current.RequestID(c)
	st := h.auditVerify.start(h.DB, head.Seq, current.Member(c).EmailAddress, func(err error) {
		h.Logger.Error("audit verification failed", "request_id", requestID, "error", err.Error())
	})
	if !current.IsHTMX(c) {
		return c.Redirect("/audit/integrity", fiber.StatusSeeOther)
	}
	return render.Fragment(c, http.StatusOK, pages.VerifyPanel(st, current.CSRFToken(c), current.Location(c)))
}

// AuditVerifyStatus is the verification's progress or result (GET
// /audit/integrity/verify), polled by the panel while it runs.
func (h *Handler) AuditVerifyStatus(c *fiber.Ctx) error {
	return render.Page(c, http.StatusOK, "Audit verification", pages.VerifyPanel(h.auditVerify.snapshot(), current.CSRFToken(c), current.Location(c)))
}
