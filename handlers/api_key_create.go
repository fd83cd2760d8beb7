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
	form := pages.APIKeyFormValues{Name: utils.CopyString(c.FormValue("name")), Scope: utils.CopyString(c.FormValue("scope")),
		Reason: utils.CopyString(c.FormValue("reason"))}
	if models.APIScope(form.Scope) == models.ScopeWrite {
		if on, err := h.approvalsRequired(c.UserContext()); err != nil {
			return err
		} else if on {
			return h.requestAPIKey(c, form)
		}
	}
	created, err := h.DB.CreateAPIKey(c.UserContext(), current.Origin(c),
		models.NewAPIKey{Name: form.Name, Scope: models.APIScope(form.Scope)})
	if err != nil {
		var merr *models.Error
		if !errors.As(err, &merr) || len(merr.Fields) == 0 {
			return err
		}
		return h.apiKeyFormRefused(c, form, merr.Fields)
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

// apiKeyFormRefused shows the form again as 422, values kept, each
// message beside its field.
func (h *Handler) apiKeyFormRefused(c *fiber.Ctx, form pages.APIKeyFormValues, fields models.FieldErrors) error {
	v, err := h.apiKeysView(c)
	if err != nil {
		return err
	}
	v.Form, v.Errors = form, fields
	if current.IsHTMX(c) {
		return render.Fragment(c, http.StatusUnprocessableEntity, pages.APIKeyForm(*v))
	}
	return render.Page(c, http.StatusUnprocessableEntity, "API keys", pages.APIKeys(*v))
}

// requestAPIKey asks for a read-write key to wait for a second admin,
// while approvals are required; the key and its secret are made when
// another admin approves, and the secret is shown to them.
func (h *Handler) requestAPIKey(c *fiber.Ctx, form pages.APIKeyFormValues) error {
	r, err := h.DB.RequestApproval(c.UserContext(), current.Origin(c), models.ApprovalInput{
		Action: models.ApproveAPIKeyCreate, Reason: form.Reason, Key: models.NewAPIKey{Name: form.Name, Scope: models.APIScope(form.Scope)}})
	var merr *models.Error
	if errors.As(err, &merr) && len(merr.Fields) > 0 {
		return h.apiKeyFormRefused(c, form, merr.Fields)
	}
	if err != nil {
		return err
	}
	current.AddFlashLink(c, "Approval requested: "+r.Label()+". Another admin decides it.", "/approvals", "Approvals")
	return redirect(c, "/api-keys")
}
