package web

import (
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/static"
)

// serveStatic answers /static/* from the embedded files, compressed once
// per process (brotli, else gzip, as the client accepts). A URL carrying
// the file's content hash (static.URL) is cached for a year; any other is
// revalidated by ETag, which names the encoding too: each is its own
// representation.
func serveStatic(c *fiber.Ctx) error {
	name := c.Params("*")
	asset, ok := static.Lookup(name)
	if !ok {
		return fiber.ErrNotFound
	}
	body, encoding, tag := asset.Body, "", asset.Hash
	switch accepts := &c.Request().Header; {
	case accepts.HasAcceptEncoding("br") && asset.Brotli() != nil:
		body, encoding, tag = asset.Brotli(), "br", tag+"-br"
	case accepts.HasAcceptEncoding("gzip") && asset.Gzip() != nil:
		body, encoding, tag = asset.Gzip(), "gzip", tag+"-gz"
	}
	etag := `"` + tag + `"`
	c.Set(fiber.HeaderETag, etag)
	c.Vary(fiber.HeaderAcceptEncoding)
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
	if encoding != "" {
		c.Set(fiber.HeaderContentEncoding, encoding)
	}
	return c.Send(body)
}
