package handlers

import (
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/apijson"
	"ledgerdesk/handlers/current"
)

// Powens list pages: limit defaults to powensDefaultLimit, at most
// powensMaxLimit.
const (
	powensDefaultLimit = 100
	powensMaxLimit     = 1000
)

// PowensUserList is Powens' GET /2.0/users: the users of the domain,
// by id, a page at a time (limit, and after = the last id seen; the answer
// links the next page). Only an API key may list.
func (h *Handler) PowensUserList(c *fiber.Ctx) error {
	if current.APICaller(c).Key == nil {
		return apijson.PowensForbidden("listing users needs an API key, not a user's token")
	}
	limit, after := powensDefaultLimit, int64(0)
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > powensMaxLimit {
			return apijson.PowensInvalid("limit must be a whole number from 1 to " + strconv.Itoa(powensMaxLimit))
		}
		limit = n
	}
	if s := c.Query("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return apijson.PowensInvalid("after must be a user id")
		}
		after = n
	}
	users, err := h.DB.EndUsersAfter(c.UserContext(), after, limit+1)
	if err != nil {
		return err
	}
	out := apijson.PowensUsersList{Users: []apijson.PowensUser{}}
	if len(users) > limit {
		users = users[:limit]
		next := "/2.0/users?limit=" + strconv.Itoa(limit) + "&after=" + strconv.FormatInt(users[limit-1].ID, 10)
		out.Links = &apijson.PowensLinks{Next: &apijson.PowensLink{Href: next}}
	}
	for i := range users {
		out.Users = append(out.Users, apijson.NewPowensUser(&users[i]))
	}
	return apijson.Send(c, http.StatusOK, out)
}
