package apijson

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"
)

// Send writes v as JSON with status. API answers may carry personal data
// or a user_token: no cache keeps them.
func Send(c *fiber.Ctx, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Status(status).Send(b)
}
