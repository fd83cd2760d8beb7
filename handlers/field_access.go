package handlers

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// fieldAccessKey holds the request's field access once read.
type fieldAccessKey struct{}

// fieldAccess is what the field policy shows the signed-in member of end
// users' personal fields. The policy is read from the database once per
// request, with the session, so a change holds on the next request in
// every process. Every page, partial, search and export of end users, and
// every audit view, goes through it.
func (h *Handler) fieldAccess(c *fiber.Ctx) (models.FieldAccess, error) {
	if a, ok := c.Locals(fieldAccessKey{}).(models.FieldAccess); ok {
		return a, nil
	}
	var a models.FieldAccess
	if s := current.SignedIn(c); s != nil {
		a = s.FieldPolicy.For(s.Member.Role)
	} else {
		var err error
		if a, err = h.DB.FieldAccess(c.UserContext(), current.Member(c).Role); err != nil {
			return models.FieldAccess{}, err
		}
	}
	c.Locals(fieldAccessKey{}, a)
	return a, nil
}
