package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
	"ledgerdesk/web/session"
)

const (
	csrfHeader    = "X-CSRF-Token"
	csrfFormField = "_csrf"
	// visitorCookie holds the random value an anonymous visitor's token is
	// bound to (the sign-in and invitation forms).
	visitorCookie = "ledgerdesk_csrf"
)

var (
	errCSRFMissing = errors.New("no CSRF token in the form body or the X-CSRF-Token header")
	errCSRFInvalid = errors.New("the CSRF token is not this session's")
)

// csrfGuard refuses a state change unless two things hold:
//
//   - The browser does not say it comes from another site. Sec-Fetch-Site,
//     else Origin, is checked by net/http's CrossOriginProtection; the
//     configured public URL counts as this site too.
//   - It carries the token of whoever is asking: for a session, an HMAC of
//     the session's id, so a token is new at every sign-in and worthless
//     with any other session; for an anonymous visitor, an HMAC of a random
//     value kept in a cookie that only this site can set.
//
// Tokens are read from the form body or the X-CSRF-Token header that htmx
// sends, never the query string (it ends up in logs and Referer headers).
// Nothing is stored: every portal process, and a restarted one, checks the
// same tokens with the shared session key.
//
// Every page carries its token masked anew (maskToken), so no two
// responses hold the same bytes: compressed pages that also echo what the
// visitor typed then give away nothing about the token through their
// length (BREACH).
type csrfGuard struct {
	key        []byte
	cookieName string
	secure     bool
	origins    *http.CrossOriginProtection
	sessions   *session.Manager
}

func newCSRFGuard(cfg Config, sessions *session.Manager) (*csrfGuard, error) {
	mac := hmac.New(sha256.New, cfg.SessionKey)
	mac.Write([]byte("ledgerdesk csrf v1"))
	g := &csrfGuard{
		key:        mac.Sum(nil),
		cookieName: cookieName(visitorCookie, cfg.SecureCookies),
		secure:     cfg.SecureCookies,
		origins:    http.NewCrossOriginProtection(),
		sessions:   sessions,
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil {
			return nil, err
		}
		if err := g.origins.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// cookieName is name, with the __Host- prefix when cookies are Secure: a
// browser then refuses the cookie from anything but this host over TLS, so
// a sibling subdomain cannot plant one.
func cookieName(name string, secure bool) string {
	if secure {
		return "__Host-" + name
	}
	return name
}

func (g *csrfGuard) handler(c *fiber.Ctx) error {
	if isAsset(c) {
		return c.Next()
	}
	visitor := c.Cookies(g.cookieName)
	if !validVisitorValue(visitor) {
		visitor = ""
	}
	if visitor == "" && current.SessionRow(c) == nil && isSafeMethod(c.Method()) {
		visitor = models.RandomToken(32)
		g.setVisitorCookie(c, visitor)
	}
	current.SetCSRFTokenFunc(c, func() string { return maskToken(g.tokenFor(c, visitor)) })
	current.SetVisitor(c, visitor)

	if !isSafeMethod(c.Method()) {
		if err := g.checkOrigin(c); err != nil {
			return err
		}
		sent := tokenFromHeaderOrBody(c)
		if sent == "" {
			return &csrfError{err: errCSRFMissing}
		}
		want, got := g.tokenFor(c, visitor), unmaskToken(sent)
		if want == nil || got == nil || !hmac.Equal(got, want) {
			return &csrfError{err: errCSRFInvalid}
		}
	}

	err := c.Next()
	// A sign-in or sign-out changed whom the request speaks for: the
	// visitor's value is done with, and the next page binds a new token.
	if g.sessions.Changed(c) {
		g.expireVisitorCookie(c)
	}
	return err
}

// tokenFor is the token the request's session, else its visitor value,
// must send, unmasked; nil when there is neither. It is read when a page
// renders, so a page drawn right after the session changed carries the new
// session's token.
func (g *csrfGuard) tokenFor(c *fiber.Ctx, visitor string) []byte {
	binding := ""
	switch row := current.SessionRow(c); {
	case row != nil:
		binding = "session:" + row.IDHash
	case visitor != "":
		binding = "visitor:" + visitor
	default:
		return nil
	}
	mac := hmac.New(sha256.New, g.key)
	mac.Write([]byte(binding))
	return mac.Sum(nil)
}

// The token as pages carry it: base64url of a random pad and the token
// XORed with it, 86 characters. The bare token, 43 characters, as pages
// served before masking carry it, is accepted too.
var (
	maskedTokenLen   = base64.RawURLEncoding.EncodedLen(2 * sha256.Size)
	unmaskedTokenLen = base64.RawURLEncoding.EncodedLen(sha256.Size)
)

// maskToken hides token behind a fresh random pad; "" for no token.
func maskToken(token []byte) string {
	if token == nil {
		return ""
	}
	out := make([]byte, 2*len(token))
	pad, masked := out[:len(token)], out[len(token):]
	rand.Read(pad)
	for i := range token {
		masked[i] = pad[i] ^ token[i]
	}
	return base64.RawURLEncoding.EncodeToString(out)
}

// unmaskToken is the token a sent value carries, or nil for anything that
// is not a token in either form.
func unmaskToken(sent string) []byte {
	if len(sent) != maskedTokenLen && len(sent) != unmaskedTokenLen {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(sent)
	if err != nil {
		return nil
	}
	if len(b) == sha256.Size {
		return b
	}
	pad, masked := b[:sha256.Size], b[sha256.Size:]
	for i := range masked {
		masked[i] ^= pad[i]
	}
	return masked
}

// checkOrigin refuses what the browser says came from another site.
func (g *csrfGuard) checkOrigin(c *fiber.Ctx) error {
	r := &http.Request{Method: c.Method(), Host: c.Hostname(), Header: http.Header{}}
	for _, h := range []string{"Sec-Fetch-Site", fiber.HeaderOrigin} {
		if v := c.Get(h); v != "" {
			r.Header.Set(h, v)
		}
	}
	if err := g.origins.Check(r); err != nil {
		return &crossOriginError{err: err}
	}
	return nil
}

func (g *csrfGuard) setVisitorCookie(c *fiber.Ctx, value string) {
	c.Cookie(&fiber.Cookie{
		Name: g.cookieName, Value: value, Path: "/", Secure: g.secure, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode, SessionOnly: true,
	})
}

func (g *csrfGuard) expireVisitorCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{
		Name: g.cookieName, Value: "", Path: "/", Secure: g.secure, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode, Expires: time.Unix(1, 0), MaxAge: -1,
	})
}

// validVisitorValue accepts what setVisitorCookie issues: 43 characters of
// unpadded base64url. Anything else is ignored as if absent.
func validVisitorValue(v string) bool {
	if len(v) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil
}

// tokenFromHeaderOrBody reads the token htmx sends as a header (from the
// page's <meta> tag), else the hidden field a plain form posts in its
// body. fasthttp's FormValue would also read the query string: not used.
func tokenFromHeaderOrBody(c *fiber.Ctx) string {
	if t := c.Get(csrfHeader); t != "" {
		return t
	}
	ct := strings.ToLower(c.Get(fiber.HeaderContentType))
	switch {
	case strings.HasPrefix(ct, fiber.MIMEApplicationForm):
		return string(c.Request().PostArgs().Peek(csrfFormField))
	case strings.HasPrefix(ct, fiber.MIMEMultipartForm):
		if form, err := c.MultipartForm(); err == nil && len(form.Value[csrfFormField]) > 0 {
			return form.Value[csrfFormField][0]
		}
	}
	return ""
}

func isSafeMethod(m string) bool {
	return m == fiber.MethodGet || m == fiber.MethodHead || m == fiber.MethodOptions
}

// csrfError marks a state change without this session's token; the error
// page explains it.
type csrfError struct{ err error }

func (e *csrfError) Error() string { return "csrf: " + e.err.Error() }
func (e *csrfError) Unwrap() error { return e.err }

// crossOriginError marks a state change the browser says another site sent.
type crossOriginError struct{ err error }

func (e *crossOriginError) Error() string { return "csrf: " + e.err.Error() }
func (e *crossOriginError) Unwrap() error { return e.err }
