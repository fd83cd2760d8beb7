package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// UserNew shows the create form (GET /users/new).
func (h *Handler) UserNew(c *fiber.Ctx) error {
	f := pages.UserFormView{Values: pages.UserFormValues{Country: "US"}, CSRFToken: current.CSRFToken(c)}
	return render.Page(c, http.StatusOK, "New end user", pages.UserNewPage(f))
}

// UserCreate creates a user (POST /users). Invalid input comes back as 422
// with each message beside its field and everything typed kept; on success
// the user_token is shown once.
func (h *Handler) UserCreate(c *fiber.Ctx) error {
	values := userFormValues(c)
	created, err := h.DB.CreateEndUser(c.UserContext(), current.Origin(c),
		models.EndUserInput{ClientUserID: values.ClientUserID, Identity: values.Identity()})
	if err != nil {
		var merr *models.Error
		if !errors.As(err, &merr) || len(merr.Fields) == 0 {
			return err
		}
		f := pages.UserFormView{Values: values, Errors: merr.Fields, Message: merr.Message, CSRFToken: current.CSRFToken(c)}
		status := http.StatusUnprocessableEntity
		stayOn(c, "/users/new")
		if current.IsHTMX(c) {
			return render.Fragment(c, status, pages.UserForm(f))
		}
		return render.Page(c, status, "New end user", pages.UserNewPage(f))
	}
	u := created.User
	if current.IsHTMX(c) {
		// The address bar moves to the user; reloading it shows the user
		// without the token, which is never shown twice.
		c.Set("HX-Push-Url", "/users/"+strconv.FormatInt(u.ID, 10))
		return render.Fragment(c, http.StatusCreated, pages.TokenPanel(u, created.UserToken, "User "+strconv.FormatInt(u.ID, 10)+" created"))
	}
	return render.Page(c, http.StatusCreated, "User created", pages.UserCreatedPage(u, created.UserToken))
}
