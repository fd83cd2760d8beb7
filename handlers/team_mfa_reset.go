package handlers

import (
	"fmt"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

const mfaResetTitle = "Reset two-step sign-in"

// TeamMFAResetConfirm asks before removing a member's authenticator and
// recovery codes (GET /team/:id/mfa-reset): what it does, and to whom.
func (h *Handler) TeamMFAResetConfirm(c *fiber.Ctx) error {
	m, err := h.memberParam(c)
	if err != nil {
		return err
	}
	enrolledAt, err := h.DB.MFAEnrolledAt(c.UserContext(), m.ID)
	if err != nil {
		return err
	}
	on, err := h.approvalsRequired(c.UserContext())
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, mfaResetTitle, pages.TeamMFAReset(pages.TeamMFAResetView{
		Member: m, EnrolledAt: enrolledAt, IsSelf: current.Member(c).ID == m.ID, CSRFToken: current.CSRFToken(c),
		Zone: current.Location(c), ApprovalsRequired: on,
	}))
}

// TeamMFAReset removes a member's TOTP secret and recovery codes and ends
// all their sessions (POST /team/:id/mfa-reset), for a member who lost
// both their phone and their codes. Not for one's own: see
// models.ResetMemberMFA.
func (h *Handler) TeamMFAReset(c *fiber.Ctx) error {
	m, err := h.memberParam(c)
	if err != nil {
		return err
	}
	if on, err := h.approvalsRequired(c.UserContext()); err != nil {
		return err
	} else if on {
		return h.requestApproval(c, memberAsk(m, models.ApproveMFAReset, mfaResetTitle, "/mfa-reset",
			"Reset the two-step sign-in of "+m.EmailAddress+"?", nil))
	}
	ended, err := h.DB.ResetMemberMFA(c.UserContext(), current.Origin(c), m.ID)
	return h.teamActionDone(c, m, err, fmt.Sprintf(
		"Two-step sign-in of %s was reset; %d session%s ended. They sign in with their password and set up a new authenticator.",
		m.EmailAddress, ended, plural(ended)))
}
