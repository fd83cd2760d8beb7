package handlers

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// UserResetLogin puts every item of the user into ITEM_LOGIN_REQUIRED
// (POST /users/:id/reset-login), as /sandbox/user/reset_login does.
func (h *Handler) UserResetLogin(c *fiber.Ctx) error {
	u, err := h.endUserParam(c)
	if err != nil {
		return err
	}
	n, err := h.DB.ResetLogin(c.UserContext(), current.Origin(c), u.ID)
	if err != nil {
		return err
	}
	current.AddFlash(c, fmt.Sprintf("%d item%s of user %d now require login (ITEM_LOGIN_REQUIRED).", n, plural(int64(n)), u.ID))
	if !current.IsHTMX(c) {
		return c.Redirect("/users/"+strconv.FormatInt(u.ID, 10), fiber.StatusSeeOther)
	}
	items, err := h.DB.ItemsOfUser(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	page, err := h.userPageOOB(c, u.ID)
	if err != nil {
		return err
	}
	// The flash carries this action's message; a token shown by an
	// earlier rotation goes.
	return render.Page(c, http.StatusOK, "", templ.Join(pages.UserItems(items, models.HealthClock{Now: models.Now()}, current.Location(c)),
		page, pages.TokenPanelOOB()))
}
