package session

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gorilla/sessions"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"ledgerdesk/models"
	"ledgerdesk/models/text"
)

// CookieName is the session cookie's name; with Secure cookies it carries
// the __Host- prefix (Store.CookieName).
const CookieName = "ledgerdesk_session"

// Manager bridges gorilla/sessions, which speaks net/http, to Fiber: it
// hands the store an *http.Request made from the Fiber request and copies
// the Set-Cookie headers the store writes into the Fiber response. This is
// the only place the two meet.
type Manager struct {
	Store *Store
}

// Loaded is the request's session and, when signed in, its row and member.
type Loaded struct {
	Session *sessions.Session
	Row     *models.SessionWithMember
}

// Load reads the request's session.
func (m *Manager) Load(c *fiber.Ctx) (*Loaded, error) {
	r, err := httpRequest(c)
	if err != nil {
		return nil, err
	}
	sess, row, err := m.Store.lookup(r, m.Store.CookieName())
	if err != nil {
		return nil, err
	}
	return &Loaded{Session: sess, Row: row}, nil
}

// Save writes the session and its cookie.
func (m *Manager) Save(c *fiber.Ctx, sess *sessions.Session) error {
	r, err := httpRequest(c)
	if err != nil {
		return err
	}
	w := &headerWriter{header: http.Header{}}
	if err := m.Store.Save(r, w, sess); err != nil {
		return err
	}
	for _, v := range w.header.Values("Set-Cookie") {
		c.Response().Header.Add(fiber.HeaderSetCookie, v)
	}
	return nil
}

// Prepare draws a fresh session id and the row that SignIn will insert for
// it. A new id at every sign-in means a session id planted before sign-in
// is worthless afterwards.
func (m *Manager) Prepare(c *fiber.Ctx, ip string) (id string, row models.Session) {
	id = models.RandomToken(32)
	now := models.Now()
	return id, models.Session{
		IDHash:     models.HashToken(id),
		IP:         ip,
		UserAgent:  text.Clean(string(c.Request().Header.UserAgent()), 512),
		Data:       "{}",
		CreatedAt:  now,
		LastSeenAt: now,
		ExpiresAt:  now.Add(m.Store.Limits.Absolute),
	}
}

// Begin sets the cookie for a session id whose row SignIn created.
func (m *Manager) Begin(c *fiber.Ctx, id string) error {
	sess := sessions.NewSession(m.Store, m.Store.CookieName())
	opts := *m.Store.Options
	sess.Options = &opts
	sess.ID = id
	c.Locals(changedKey{}, true)
	return m.Save(c, sess)
}

// Expire clears the session cookie (the row is deleted by SignOut).
func (m *Manager) Expire(c *fiber.Ctx) error {
	sess := sessions.NewSession(m.Store, m.Store.CookieName())
	opts := *m.Store.Options
	opts.MaxAge = -1
	sess.Options = &opts
	c.Locals(changedKey{}, true)
	return m.Save(c, sess)
}

// Limits are the idle and absolute lifetimes sessions get.
func (m *Manager) Limits() models.SessionLimits { return m.Store.Limits }

// changedKey marks a request that began or ended a session.
type changedKey struct{}

// Changed reports whether the request began a session or ended one: it
// signed someone in or out, or replaced their session with a new one.
func (m *Manager) Changed(c *fiber.Ctx) bool {
	changed, _ := c.Locals(changedKey{}).(bool)
	return changed
}

func httpRequest(c *fiber.Ctx) (*http.Request, error) {
	r := new(http.Request)
	if err := fasthttpadaptor.ConvertRequest(c.Context(), r, true); err != nil {
		return nil, err
	}
	return r.WithContext(c.UserContext()), nil
}

// headerWriter is the http.ResponseWriter the store writes its cookie to.
type headerWriter struct{ header http.Header }

func (w *headerWriter) Header() http.Header         { return w.header }
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerWriter) WriteHeader(int)             {}
