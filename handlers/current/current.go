// Package current reads and writes what the middleware learned about the
// request in flight: who is signed in, the request id, the CSRF token.
package current

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gorilla/sessions"

	"ledgerdesk/models"
)

type key int

const (
	memberKey key = iota
	sessionKey
	rowKey
	requestIDKey
	navKey
	dirtyKey
	apiCallerKey
	clientIPKey
	csrfKey
	zoneKey
	navCountKey
	visitorKey
	signedInKey
)

// NavItem is one entry of the navigation, as the route table declares it.
type NavItem struct {
	Label string
	Path  string
}

// Member is the signed-in team member, or nil for an anonymous visitor.
func Member(c *fiber.Ctx) *models.TeamMember {
	m, _ := c.Locals(memberKey).(*models.TeamMember)
	return m
}

// SessionRow is the signed-in member's session row, or nil.
func SessionRow(c *fiber.Ctx) *models.Session {
	s, _ := c.Locals(rowKey).(*models.Session)
	return s
}

// Session is the gorilla session of the request (empty when anonymous).
func Session(c *fiber.Ctx) *sessions.Session {
	s, _ := c.Locals(sessionKey).(*sessions.Session)
	return s
}

// SignedIn is what the middleware loaded with the signed-in member's
// session, or nil.
func SignedIn(c *fiber.Ctx) *models.SessionWithMember {
	s, _ := c.Locals(signedInKey).(*models.SessionWithMember)
	return s
}

// SetSignedIn records the session and member the middleware loaded.
func SetSignedIn(c *fiber.Ctx, sess *sessions.Session, row *models.SessionWithMember) {
	c.Locals(sessionKey, sess)
	if row != nil {
		c.Locals(memberKey, &row.Member)
		c.Locals(rowKey, &row.Session)
		c.Locals(signedInKey, row)
	}
}

// ZoneCookie is the cookie app.js keeps the browser's time zone in.
const ZoneCookie = "ld_tz"

// Zone is the time zone the request's times are shown in: the member's
// choice, else the browser's (its cookie, checked like any input), else
// UTC. Worked out once per request.
func Zone(c *fiber.Ctx) models.Zone {
	if z, ok := c.Locals(zoneKey).(models.Zone); ok {
		return z
	}
	chosen := ""
	if m := Member(c); m != nil {
		chosen = m.TimeZone
	}
	z := models.ResolveZone(chosen, c.Cookies(ZoneCookie))
	c.Locals(zoneKey, z)
	return z
}

// Location is the zone views write the request's times in.
func Location(c *fiber.Ctx) *time.Location { return Zone(c).Location }

// BrowserZone is the browser's time zone as its cookie names it, or ""
// when it names none the portal knows.
func BrowserZone(c *fiber.Ctx) string {
	if z := models.ResolveZone("", c.Cookies(ZoneCookie)); z.Source == models.ZoneBrowser {
		return z.Name()
	}
	return ""
}

// RequestID is the id the request carries in logs, audit entries and pages.
func RequestID(c *fiber.Ctx) string {
	s, _ := c.Locals(requestIDKey).(string)
	return s
}

// ClientIP is the address the request came from, as the trusted proxies
// vouch for it: what sessions, the audit log and per-address limits use.
func ClientIP(c *fiber.Ctx) string {
	if s, ok := c.Locals(clientIPKey).(string); ok {
		return s
	}
	return c.Context().RemoteIP().String()
}

// SetClientIP records the request's address.
func SetClientIP(c *fiber.Ctx, ip string) { c.Locals(clientIPKey, ip) }

// SetRequestID records the request id.
func SetRequestID(c *fiber.Ctx, id string) { c.Locals(requestIDKey, id) }

// CSRFToken is the token forms and htmx requests must send back. It is
// worked out when asked for, so that a page drawn after the request's
// session changed carries the new session's token.
func CSRFToken(c *fiber.Ctx) string {
	if f, ok := c.Locals(csrfKey).(func() string); ok {
		return f()
	}
	return ""
}

// SetCSRFTokenFunc records how to work out the request's CSRF token.
func SetCSRFTokenFunc(c *fiber.Ctx, f func() string) { c.Locals(csrfKey, f) }

// Visitor is the random value that stands for a browser not signed in
// (its pre-sign-in cookie, as the CSRF guard checked it), or "".
func Visitor(c *fiber.Ctx) string {
	v, _ := c.Locals(visitorKey).(string)
	return v
}

// SetVisitor records the browser's pre-sign-in value.
func SetVisitor(c *fiber.Ctx, v string) { c.Locals(visitorKey, v) }

// Nav is the navigation for the signed-in member's role.
func Nav(c *fiber.Ctx) []NavItem {
	n, _ := c.Locals(navKey).([]NavItem)
	return n
}

// SetNav records the navigation.
func SetNav(c *fiber.Ctx, n []NavItem) { c.Locals(navKey, n) }

// NavCounter counts what waits for the member behind a navigation entry;
// ok is false when it could not count.
type NavCounter func(path string) (n int64, ok bool)

// NavCount is the count beside a navigation entry, worked out only when
// a full page draws the navigation; 0 when there is none.
func NavCount(c *fiber.Ctx, path string) int64 {
	f, _ := c.Locals(navCountKey).(NavCounter)
	if f == nil {
		return 0
	}
	n, _ := f(path)
	return n
}

// SetNavCounter records how to count what waits behind entries.
func SetNavCounter(c *fiber.Ctx, f NavCounter) { c.Locals(navCountKey, f) }

// IsHTMX reports whether htmx sent the request and will swap a fragment.
// A history restore asks for the whole page even though htmx sends it.
func IsHTMX(c *fiber.Ctx) bool {
	return c.Get("HX-Request") == "true" && c.Get("HX-History-Restore-Request") != "true"
}

// Origin describes the request for the audit log.
func Origin(c *fiber.Ctx) models.Origin {
	o := models.Origin{
		Actor:     models.Actor{Type: models.ActorAnonymous},
		RequestID: RequestID(c),
		IP:        ClientIP(c),
		UserAgent: string(c.Request().Header.UserAgent()),
	}
	if m := Member(c); m != nil {
		o.Actor = m.AsActor()
	}
	if a := APICaller(c); a != nil {
		o.Actor = a.Actor()
	}
	return o
}

// Caller is who called the JSON API: an API key, or (Powens' user
// token) an end user with their own user_token.
type Caller struct {
	Key  *models.APIKey
	User *models.EndUser
}

// Actor is the caller as the actor of the changes it makes.
func (a *Caller) Actor() models.Actor {
	if a.Key != nil {
		return a.Key.AsActor()
	}
	return models.Actor{Type: models.ActorEndUser, ID: strconv.FormatInt(a.User.ID, 10)}
}

// APICaller is the JSON API's authenticated caller, or nil.
func APICaller(c *fiber.Ctx) *Caller {
	a, _ := c.Locals(apiCallerKey).(*Caller)
	return a
}

// SetAPICaller records the JSON API's authenticated caller.
func SetAPICaller(c *fiber.Ctx, a *Caller) { c.Locals(apiCallerKey, a) }

// Flash is a one-time message, with a link to follow up on it when Href
// is set (a path in the portal).
type Flash struct {
	Text string
	Href string
	Link string // the link's words
}

// AddFlash queues a message for the next page the member sees.
func AddFlash(c *fiber.Ctx, msg string) {
	addFlash(c, msg)
}

// AddFlashLink queues a message with a link to the page where it goes on.
func AddFlashLink(c *fiber.Ctx, msg, href, link string) {
	// Kept as the JSON the session store writes would read back, so a
	// flash reads the same before and after a round trip.
	addFlash(c, map[string]any{"text": msg, "href": href, "link": link})
}

func addFlash(c *fiber.Ctx, v any) {
	if s := Session(c); s != nil && SessionRow(c) != nil {
		s.AddFlash(v)
		c.Locals(dirtyKey, true)
	}
}

// TakeFlashes returns and clears the queued messages.
func TakeFlashes(c *fiber.Ctx) []Flash {
	s := Session(c)
	if s == nil || SessionRow(c) == nil {
		return nil
	}
	raw := s.Flashes()
	if len(raw) == 0 {
		return nil
	}
	c.Locals(dirtyKey, true)
	out := make([]Flash, 0, len(raw))
	for _, f := range raw {
		switch v := f.(type) {
		case string:
			out = append(out, Flash{Text: v})
		case map[string]any:
			text, _ := v["text"].(string)
			href, _ := v["href"].(string)
			link, _ := v["link"].(string)
			out = append(out, Flash{Text: text, Href: href, Link: link})
		}
	}
	return out
}

// SessionChanged marks the session's values as changed, to be saved.
func SessionChanged(c *fiber.Ctx) { c.Locals(dirtyKey, true) }

// SessionDirty reports whether the session's values changed and need saving.
func SessionDirty(c *fiber.Ctx) bool {
	d, _ := c.Locals(dirtyKey).(bool)
	return d
}
