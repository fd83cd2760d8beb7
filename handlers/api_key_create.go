package handlers

import (
	"errors"
	"net/http"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// APIKeyCreate makes a key (POST /api-keys) and shows its secret once.
// Invalid input comes back as 422 with the message beside the field.
func (h *Handler) APIKeyCreate(c *fiber.Ctx) error {
	form := pages.APIKeyFormValues{Name: utils.CopyString(c.FormValue("name")), Scope: utils.CopyString(c.FormValue("scope"))}
	created, err := h.DB.CreateAPIKey(c.UserContext(), current.Origin(c),
		models.NewAPIKey{Name: form.Name, Scope: models.APIScope(form.Scope)})
	if err != nil {
		var merr *models.Error
		if !errors.As(err, &merr) || len(merr.Fields) == 0 {
			return err
		}
		v, verr := h.apiKeysView(c)
		if verr != nil {
			return verr
		}
		v.Form, v.Errors = form, merr.Fields
		if current.IsHTMX(c) {
			return render.Fragment(c, http.StatusUnprocessableEntity, pages.APIKeyForm(*v))
		}
		return render.Page(c, http.StatusUnprocessableEntity, "API keys", pages.APIKeys(*v))
	}
	// The list is read after the commit, so it holds the new key.
	v, err := h.apiKeysView(c)
	if err != nil {
		return err
	}
	v.Created, v.Secret = created.Key, created.Secret
	if current.IsHTMX(c) {
		return render.Fragment(c, http.StatusCreated, templ.Join(pages.APIKeySecret(created.Key, created.Secret), pages.APIKeyList(*v, true)))
	}
	return render.Page(c, http.StatusCreated, "API key created", pages.APIKeys(*v))
}
