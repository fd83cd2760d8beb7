package handlers

import (
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

const mfaTitle = "Two-step sign-in"

// AccountMFAShow renders the member's two-step sign-in: how to start, the
// secret being set up, or its state once on (GET /account/mfa).
func (h *Handler) AccountMFAShow(c *fiber.Ctx) error {
	v, err := h.mfaView(c)
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, mfaTitle, pages.AccountMFA(v))
}

// mfaView reads what the page shows for the signed-in member.
func (h *Handler) mfaView(c *fiber.Ctx) (pages.MFAView, error) {
	m := current.Member(c)
	status, err := h.DB.MFAStatusOf(c.UserContext(), m)
	if err != nil {
		return pages.MFAView{}, err
	}
	v := pages.MFAView{
		CSRFToken:         current.CSRFToken(c),
		Required:          current.SessionRow(c).MFAStage == models.AwaitingEnrolment,
		Enabled:           status.Enabled,
		RecoveryCodesLeft: status.RecoveryCodesLeft,
		Errors:            map[string]string{},
	}
	if status.Enabled {
		v.EnabledSince, v.Zone = status.ConfirmedAt, current.Location(c)
		if m.Role == models.RoleAdmin {
			s, err := h.DB.Settings(c.UserContext())
			if err != nil {
				return pages.MFAView{}, err
			}
			// A passkey keeps the admin's second factor without the app.
			keys, err := h.DB.HasPasskeys(c.UserContext(), m.ID)
			if err != nil {
				return pages.MFAView{}, err
			}
			v.MustKeep = s.MFARequiredForAdmins && !keys
		}
	}
	if status.Setup != nil {
		png, err := status.Setup.QRCodePNG(200)
		if err != nil {
			return pages.MFAView{}, err
		}
		v.Setup = &pages.MFASetupView{
			QRCode: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png),
			Secret: status.Setup.GroupedSecret(),
		}
	}
	return v, nil
}

// mfaFormError re-renders the page with a refused code beside the field
// it was typed in: 422 for a wrong or spent code, 429 when throttled.
// Other errors are returned as they are.
func (h *Handler) mfaFormError(c *fiber.Ctx, err error, field string) error {
	var merr *models.Error
	if !errors.As(err, &merr) {
		return err
	}
	status := http.StatusUnprocessableEntity
	switch merr.Kind {
	case models.KindInvalid, models.KindUnauthorized:
	case models.KindThrottled:
		status = http.StatusTooManyRequests
	default:
		return err
	}
	v, verr := h.mfaView(c)
	if verr != nil {
		return verr
	}
	// The models name the field they refused as "code" for every code
	// field of the page, and the password as "password".
	msg := merr.Fields[field]
	if msg == "" {
		msg = fieldOr(merr, "code")
	}
	v.Errors[field] = msg
	return render.Page(c, status, mfaTitle, pages.AccountMFA(v))
}

// showRecoveryCodes answers with freshly made recovery codes. They are in
// this response only: the page is not cached, and a reload cannot show
// them again.
func (h *Handler) showRecoveryCodes(c *fiber.Ctx, codes []string, done, continueTo string) error {
	return render.Page(c, http.StatusOK, mfaTitle, pages.AccountMFA(pages.MFAView{
		CSRFToken: current.CSRFToken(c), Done: done, NewCodes: codes, Continue: continueTo,
	}))
}
