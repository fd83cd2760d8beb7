// Package render writes templ components as Fiber responses: the fragment
// for htmx, the whole page (layout.Page around the same fragment) for
// everything else.
package render

import (
	"bytes"
	"unicode/utf8"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/views/layout"
)

// Page answers with body inside the layout, or with body alone (plus any
// flash messages, out of band) when htmx asked for a fragment.
func Page(c *fiber.Ctx, status int, title string, body templ.Component) error {
	c.Vary("HX-Request")
	if current.IsHTMX(c) {
		if fs := flashes(c); len(fs) > 0 {
			body = templ.Join(body, layout.FlashesOOB(fs))
		}
		return Fragment(c, status, body)
	}
	return Fragment(c, status, layout.Page(Meta(c, title), body))
}

// Fragment answers with a component as it is.
func Fragment(c *fiber.Ctx, status int, comp templ.Component) error {
	c.Vary("HX-Request")
	// Straight into the response body, without a copy; a component that
	// fails half way leaves nothing behind for the error page.
	resp := c.Response()
	resp.ResetBody()
	if err := comp.Render(c.UserContext(), resp.BodyWriter()); err != nil {
		resp.ResetBody()
		return err
	}
	// A refused value is shown back as it was typed, and may hold bytes
	// that are not UTF-8, or a NUL: they become U+FFFD, as a browser would
	// show them, so that the page is the text its charset says (two scans
	// of a page that almost never holds either).
	if body := resp.Body(); !utf8.Valid(body) || bytes.IndexByte(body, 0) >= 0 {
		body = bytes.ToValidUTF8(body, []byte("\uFFFD"))
		resp.SetBodyRaw(bytes.ReplaceAll(body, []byte{0}, []byte("\uFFFD")))
	}
	// Pages show personal data: no shared or browser cache may keep them.
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Status(status)
	return nil
}

// Meta is the layout's view of the request.
func Meta(c *fiber.Ctx, title string) layout.Meta {
	m := layout.Meta{Title: title, CSRFToken: current.CSRFToken(c)}
	if member := current.Member(c); member != nil {
		m.MemberEmail = member.EmailAddress
		m.RoleLabel = member.Role.Label()
		for _, item := range current.Nav(c) {
			m.Nav = append(m.Nav, layout.NavItem{Label: item.Label, Path: item.Path, Active: isActive(c.Path(), item.Path),
				Count: current.NavCount(c, item.Path)})
		}
		m.Flashes = flashes(c)
		m.Zone = current.Zone(c)
	}
	return m
}

// flashes takes the queued messages, for the layout to show.
func flashes(c *fiber.Ctx) []layout.Flash {
	fs := current.TakeFlashes(c)
	if len(fs) == 0 {
		return nil
	}
	out := make([]layout.Flash, len(fs))
	for i, f := range fs {
		out[i] = layout.Flash(f)
	}
	return out
}

func isActive(path, item string) bool {
	if item == "/" {
		return path == "/"
	}
	return path == item || len(path) > len(item) && path[:len(item)] == item && path[len(item)] == '/'
}
