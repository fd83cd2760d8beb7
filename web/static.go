package web

import (
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/static"
)

// serveStatic answers /static/* from the embedded files. A URL carrying
// the file's content hash (static.URL) is cached for a year; any other is
// revalidated by ETag.
func serveStatic(c *fiber.Ctx) error {
	name := c.Params("*")
	asset, ok := static.Lookup(name)
	if !ok {
		return fiber.ErrNotFound
	}
	etag := `"` + asset.Hash + `"`
	c.Set(fiber.HeaderETag, etag)
	if c.Query("v") == asset.Hash {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "public, no-cache")
	}
	if strings.Contains(c.Get(fiber.HeaderIfNoneMatch), etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = fiber.MIMEOctetStream
	}
	c.Set(fiber.HeaderContentType, ctype)
	return c.Send(asset.Body)
}
