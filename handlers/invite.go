package handlers

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// InviteShow is the page an invitation link opens (GET /invite/:token):
// the invitee chooses a password, or learns why the link does not work.
func (h *Handler) InviteShow(c *fiber.Ctx) error {
	token := utils.CopyString(c.Params("token"))
	inv, err := h.DB.InvitationByToken(c.UserContext(), token)
	if err != nil {
		return h.inviteInvalid(c, err)
	}
	return render.Page(c, http.StatusOK, "Accept your invitation", pages.InviteAccept(pages.InviteAcceptView{
		Token: token, Email: inv.Member.EmailAddress, Role: inv.Member.Role, ExpiresAt: inv.ExpiresAt,
		CSRFToken: current.CSRFToken(c), Zone: current.Location(c),
	}))
}

// InviteAccept sets the invitee's password and activates them
// (POST /invite/:token), then sends them to sign in. Signing in is left
// to the login page, the one place sign-in rules live (throttling, a
// second factor where required), and typing the new password once more
// shows it was kept.
func (h *Handler) InviteAccept(c *fiber.Ctx) error {
	token := utils.CopyString(c.Params("token"))
	_, err := h.DB.AcceptInvitation(c.UserContext(), current.Origin(c), token, c.FormValue("password"), c.FormValue("confirm"))
	var merr *models.Error
	if errors.As(err, &merr) && merr.Kind == models.KindInvalid {
		inv, ierr := h.DB.InvitationByToken(c.UserContext(), token)
		if ierr != nil {
			return h.inviteInvalid(c, ierr)
		}
		return render.Page(c, http.StatusUnprocessableEntity, "Accept your invitation", pages.InviteAccept(pages.InviteAcceptView{
			Token: token, Email: inv.Member.EmailAddress, Role: inv.Member.Role, ExpiresAt: inv.ExpiresAt,
			Errors: merr.Fields, Advice: merr.Advice, CSRFToken: current.CSRFToken(c), Zone: current.Location(c),
		}))
	}
	if err != nil {
		return h.inviteInvalid(c, err)
	}
	return c.Redirect("/login?welcome=1", fiber.StatusSeeOther)
}

func (h *Handler) inviteInvalid(c *fiber.Ctx, err error) error {
	var merr *models.Error
	if !errors.As(err, &merr) || merr.Kind != models.KindNotFound {
		return err
	}
	return render.Page(c, http.StatusNotFound, "Invitation", pages.InviteInvalid(merr.Message))
}
