package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// verifyTimeout bounds a background verification.
const verifyTimeout = 10 * time.Minute

// progressEvery is how often a running verification writes how far it
// got: the heartbeat other processes read.
const progressEvery = time.Second

// runVerification walks the chain for the verification v recorded, in the
// background of this process, writing its progress and outcome where any
// process reads them.
func runVerification(db *models.DB, v *models.Verification, log *slog.Logger, requestID string) {
	ctx, cancel := context.WithTimeout(context.Background(), verifyTimeout)
	defer cancel()
	var last time.Time
	res, err := db.VerifyAuditChain(ctx, func(checked int64) {
		if time.Since(last) < progressEvery {
			return
		}
		last = time.Now()
		if err := db.RecordVerificationProgress(ctx, v.ID, checked); err != nil {
			log.Warn("audit verification progress not recorded", "request_id", requestID, "error", err.Error())
		}
	})
	if err != nil {
		log.Error("audit verification failed", "request_id", requestID, "error", err.Error())
	}
	if ferr := db.FinishVerification(context.WithoutCancel(ctx), v.ID, res, err); ferr != nil {
		log.Error("audit verification outcome not recorded", "request_id", requestID, "error", ferr.Error())
	}
}

// verifyStatus is the newest verification as the pages show it.
func (h *Handler) verifyStatus(ctx context.Context) (pages.VerifyStatus, error) {
	v, err := h.DB.LatestVerification(ctx)
	if err != nil || v == nil {
		return pages.VerifyStatus{}, err
	}
	now := models.Now()
	st := pages.VerifyStatus{Total: v.Total, Checked: v.Checked, StartedAt: v.StartedAt, StartedBy: v.StartedBy}
	switch {
	case v.Stopped(now):
		st.Done, st.Failed = true, true
	case v.State == models.VerificationRunning:
		st.Running = true
	default:
		st.Done, st.Failed, st.Result = true, v.State == models.VerificationFailed, v.Result()
		if v.FinishedAt != nil {
			st.Duration = v.FinishedAt.Sub(v.StartedAt)
		}
	}
	return st, nil
}

// AuditVerifyStart starts verifying the whole chain in the background
// (POST /audit/integrity/verify) and answers with its progress, which
// polls itself until the result is in. One verification runs at a time,
// across processes: a second click joins the one running. It reads the
// log only.
func (h *Handler) AuditVerifyStart(c *fiber.Ctx) error {
	ctx := c.UserContext()
	head, err := h.DB.AuditHead(ctx)
	if err != nil {
		return err
	}
	v, started, err := h.DB.StartVerification(ctx, current.Member(c).EmailAddress, head.Seq)
	if err != nil {
		return err
	}
	if started {
		go runVerification(h.DB, v, h.Logger, current.RequestID(c))
	}
	if !current.IsHTMX(c) {
		return c.Redirect("/audit/integrity", fiber.StatusSeeOther)
	}
	st, err := h.verifyStatus(ctx)
	if err != nil {
		return err
	}
	return render.Fragment(c, http.StatusOK, pages.VerifyPanel(st, current.CSRFToken(c), current.Location(c)))
}

// AuditVerifyStatus is the verification's progress or result (GET
// /audit/integrity/verify), polled by the panel while it runs.
func (h *Handler) AuditVerifyStatus(c *fiber.Ctx) error {
	st, err := h.verifyStatus(c.UserContext())
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "Audit verification", pages.VerifyPanel(st, current.CSRFToken(c), current.Location(c)))
}
