package web

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/csrf"

	"ledgerdesk/models"
	"ledgerdesk/web/current"
)

const (
	csrfCookieName = "ledgerdesk_csrf"
	csrfHeader     = "X-CSRF-Token"
	csrfFormField  = "_csrf"
	// csrfHandlerKey is where Fiber's CSRF middleware leaves its handler,
	// used to withdraw the token when a member signs in or out.
	csrfHandlerKey = "ledgerdesk.csrf.handler"
)

// csrfProtection is Fiber's CSRF middleware (a token in a cookie, checked
// against the one the request sends and against the server's record),
// with the record kept in the database so tokens survive restarts and are
// shared by every portal process.
func csrfProtection(db *models.DB, cfg Config) fiber.Handler {
	return csrf.New(csrf.Config{
		Next:              isAsset,
		CookieName:        csrfCookieName,
		CookieSameSite:    "Lax",
		CookieSecure:      cfg.SecureCookies,
		CookieHTTPOnly:    true,
		CookieSessionOnly: true,
		// A token lives as long as an idle session would; every request
		// extends it. Tokens of visitors who never come back expire soon.
		Expiration:        cfg.IdleTimeout,
		Extractor:         csrfFromHeaderOrForm,
		Storage:           newCSRFStorage(db, cfg.IdleTimeout),
		ContextKey:        current.CSRFContextKey,
		HandlerContextKey: csrfHandlerKey,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			// A token the database could not look up is an outage, not
			// a forgery: say so rather than blame the form.
			if errors.Is(err, csrf.ErrTokenNotFound) {
				if perr := db.Ping(c.UserContext()); perr != nil {
					return fmt.Errorf("csrf: check token: %w", perr)
				}
			}
			return &csrfError{err: err}
		},
	})
}

// csrfFromHeaderOrForm reads the token htmx sends as a header (from the
// page's <meta> tag), else the hidden field a plain form posts.
func csrfFromHeaderOrForm(c *fiber.Ctx) (string, error) {
	if t := c.Get(csrfHeader); t != "" {
		return t, nil
	}
	if t := c.FormValue(csrfFormField); t != "" {
		return t, nil
	}
	return "", csrf.ErrTokenNotFound
}

// csrfError marks a refused state change; the error page explains it.
type csrfError struct{ err error }

func (e *csrfError) Error() string { return "csrf: " + e.err.Error() }
func (e *csrfError) Unwrap() error { return e.err }

// csrfStorage is the fiber.Storage the CSRF middleware keeps tokens in.
// The middleware extends a token on every request; a process-local note of
// when each token was last written spares the database most of those
// writes.
type csrfStorage struct {
	db      *models.DB
	mu      sync.Mutex
	written map[string]time.Time
	// rewriteAfter is how long a written token is trusted without a
	// database read and spared a rewrite: a quarter of its lifetime, at
	// most five minutes.
	rewriteAfter time.Duration
}

const (
	csrfRewriteAfter = 5 * time.Minute
	csrfDBTimeout    = 3 * time.Second
	csrfNoteLimit    = 50000
)

func newCSRFStorage(db *models.DB, lifetime time.Duration) *csrfStorage {
	return &csrfStorage{db: db, written: map[string]time.Time{}, rewriteAfter: min(csrfRewriteAfter, lifetime/4)}
}

func (s *csrfStorage) Get(key string) ([]byte, error) {
	if key == "" {
		return nil, nil
	}
	// A token this process wrote (issued or extended) within the rewrite
	// interval is still valid in the database: its expiry lies at least
	// Expiration minus that interval ahead. Withdrawals go through Delete,
	// which forgets it here first.
	s.mu.Lock()
	last, seen := s.written[key]
	s.mu.Unlock()
	if seen && time.Since(last) < s.rewriteAfter {
		return []byte{'+'}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), csrfDBTimeout)
	defer cancel()
	ok, err := s.db.CSRFTokenValid(ctx, key)
	if err != nil || !ok {
		return nil, err
	}
	return []byte{'+'}, nil
}

func (s *csrfStorage) Set(key string, _ []byte, exp time.Duration) error {
	now := time.Now()
	s.mu.Lock()
	last, seen := s.written[key]
	fresh := seen && now.Sub(last) < s.rewriteAfter
	s.mu.Unlock()
	if fresh {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), csrfDBTimeout)
	defer cancel()
	if err := s.db.PutCSRFToken(ctx, key, models.Now().Add(exp)); err != nil {
		return err
	}
	s.mu.Lock()
	if len(s.written) >= csrfNoteLimit {
		s.written = map[string]time.Time{}
	}
	s.written[key] = now
	s.mu.Unlock()
	return nil
}

func (s *csrfStorage) Delete(key string) error {
	s.mu.Lock()
	delete(s.written, key)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), csrfDBTimeout)
	defer cancel()
	return s.db.DeleteCSRFToken(ctx, key)
}

func (s *csrfStorage) Reset() error { return errors.New("csrf storage: reset is not supported") }
func (s *csrfStorage) Close() error { return nil }
