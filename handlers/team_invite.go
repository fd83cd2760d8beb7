package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/mail"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// TeamInviteForm asks for the invitee's email and role (GET /team/invite).
func (h *Handler) TeamInviteForm(c *fiber.Ctx) error {
	f := pages.InviteFormView{Role: string(models.RoleAuditor), CSRFToken: current.CSRFToken(c)}
	return render.Page(c, http.StatusOK, "Invite a team member", pages.TeamInvitePage(f))
}

// TeamInvite creates the invitation (POST /team/invite) and shows its
// one-time link; invalid input comes back as 422 with the values kept.
func (h *Handler) TeamInvite(c *fiber.Ctx) error {
	f := pages.InviteFormView{
		Email: utils.CopyString(c.FormValue("email")), Role: utils.CopyString(c.FormValue("role")),
		CSRFToken: current.CSRFToken(c),
	}
	issued, err := h.DB.InviteMember(c.UserContext(), current.Origin(c), models.NewInvitee{Email: f.Email, Role: models.Role(f.Role)})
	var merr *models.Error
	if errors.As(err, &merr) && len(merr.Fields) > 0 {
		f.Errors = merr.Fields
		return render.Page(c, http.StatusUnprocessableEntity, "Invite a team member", pages.TeamInvitePage(f))
	}
	if err != nil {
		return err
	}
	return h.showInvitationLink(c, http.StatusCreated, issued, "Invitation created")
}

// showInvitationLink shows the link once and, when SMTP is configured,
// mails it. A mail that fails is reported; the invitation stands.
func (h *Handler) showInvitationLink(c *fiber.Ctx, status int, issued *models.IssuedInvitation, headline string) error {
	v := pages.InvitationLinkView{Member: issued.Member, Headline: headline,
		Link: h.baseURL(c) + "/invite/" + issued.Token, ExpiresAt: issued.ExpiresAt, Zone: current.Location(c)}
	if h.Mailer != nil {
		err := h.Mailer.Send(c.UserContext(), invitationMail(issued, v.Link))
		if err != nil {
			// The reason goes to the admin's page only: a server's answer
			// may quote the recipient's address, which the log must not keep.
			h.Logger.Warn("invitation mail not sent", "request_id", current.RequestID(c))
			v.MailError = err.Error()
		} else {
			v.Mailed = true
		}
	}
	return render.Page(c, status, headline, pages.InvitationLink(v))
}

// baseURL is the portal's address for links that leave the browser.
func (h *Handler) baseURL(c *fiber.Ctx) string {
	if h.PublicURL != "" {
		return strings.TrimRight(h.PublicURL, "/")
	}
	return c.BaseURL()
}

func invitationMail(issued *models.IssuedInvitation, link string) mail.Message {
	return mail.Message{
		To:      issued.Member.EmailAddress,
		Subject: "You are invited to Ledgerdesk",
		Body: fmt.Sprintf("Hello,\n\nYou were invited to the Ledgerdesk admin portal as %s.\n"+
			"Open this link to choose your password:\n\n%s\n\n"+
			"The link works once, until %s UTC. If you did not expect this, ignore this message.\n",
			issued.Member.Role.Label(), link, issued.ExpiresAt.UTC().Format("2006-01-02 15:04")),
	}
}
