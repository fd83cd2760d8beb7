package web

import (
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// compressResponses compresses pages, partials, JSON and exports with
// brotli or gzip, as the client accepts; Fiber's compress middleware runs
// the same fasthttp compressors, at one level for everything. Here pages
// and JSON, a few kilobytes each, get the default levels, while an export
// (a body stream, hundreds of megabytes at a million users) gets the
// fastest: the default brotli level compresses CSV slower than the
// database produces it, and the stream is still sent as it is written.
// Static files come compressed from serveStatic. Pages are safe to
// compress beside what they echo because their CSRF token is masked anew
// on each (csrf.go).
func compressResponses() fiber.Handler {
	leave := func(*fasthttp.RequestCtx) {}
	pages := fasthttp.CompressHandlerBrotliLevel(leave,
		fasthttp.CompressBrotliDefaultCompression, fasthttp.CompressDefaultCompression)
	streams := fasthttp.CompressHandlerBrotliLevel(leave,
		fasthttp.CompressBrotliBestSpeed, fasthttp.CompressBestSpeed)
	return func(c *fiber.Ctx) error {
		if isAsset(c) {
			return c.Next()
		}
		if err := c.Next(); err != nil {
			return err
		}
		// Said whether or not this answer was compressed, so a cache
		// never gives one client's encoding to another.
		c.Vary(fiber.HeaderAcceptEncoding)
		if c.Context().IsBodyStream() {
			streams(c.Context())
		} else {
			pages(c.Context())
		}
		return nil
	}
}
