// Package session keeps signed-in browsers: a gorilla/sessions Store backed
// by the sessions table, and the one bridge between it and Fiber.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"ledgerdesk/models"
)

// Store is a gorilla/sessions Store whose cookie holds only a signed random
// id; everything else lives in the session's row.
type Store struct {
	db      *models.DB
	name    string
	codecs  []securecookie.Codec
	Options *sessions.Options
	Limits  models.SessionLimits
}

// NewStore returns a Store signing cookies with hashKey (32 or 64 bytes).
func NewStore(db *models.DB, hashKey []byte, secure bool, limits models.SessionLimits) *Store {
	codec := securecookie.New(hashKey, nil)
	// The cookie carries a 32-byte id; refuse anything bigger before decoding.
	codec.MaxLength(512)
	codec.MaxAge(int(limits.Absolute.Seconds()))
	name := CookieName
	if secure {
		// Only this host, over TLS, can then set it: a sibling subdomain
		// cannot plant a session cookie.
		name = "__Host-" + name
	}
	return &Store{
		db:     db,
		name:   name,
		codecs: []securecookie.Codec{codec},
		Options: &sessions.Options{
			Path:     "/",
			HttpOnly: true,
			Secure:   secure,
			SameSite: http.SameSiteLaxMode,
			// MaxAge 0: a browser-session cookie; the server enforces the
			// idle and absolute limits.
		},
		Limits: limits,
	}
}

// CookieName is the name of the session cookie.
func (s *Store) CookieName() string { return s.name }

// Get returns the request's session through gorilla's per-request registry.
func (s *Store) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New returns the session named by the request's cookie, or a new, empty
// one when there is no valid cookie or row.
func (s *Store) New(r *http.Request, name string) (*sessions.Session, error) {
	sess, _, err := s.lookup(r, name)
	return sess, err
}

// lookup is New that also returns the row and its member.
func (s *Store) lookup(r *http.Request, name string) (*sessions.Session, *models.SessionWithMember, error) {
	sess := sessions.NewSession(s, name)
	opts := *s.Options
	sess.Options = &opts
	sess.IsNew = true
	cookie, err := r.Cookie(name)
	if err != nil {
		return sess, nil, nil
	}
	var id string
	if err := securecookie.DecodeMulti(name, cookie.Value, &id, s.codecs...); err != nil {
		return sess, nil, nil // tampered, foreign or too old: start afresh
	}
	row, err := s.db.LoadSession(r.Context(), models.HashToken(id), s.Limits)
	if models.ErrorKind(err) == models.KindNotFound {
		return sess, nil, nil
	}
	if err != nil {
		return sess, nil, err
	}
	if err := decodeValues(row.Session.Data, sess.Values); err != nil {
		return sess, nil, err
	}
	sess.ID = id
	sess.IsNew = false
	return sess, row, nil
}

// Save writes the session's values and its cookie; a negative MaxAge
// deletes the row and expires the cookie. Rows are created at sign-in
// (models.SignIn, audited), never here: a session without a row is refused.
func (s *Store) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	if sess.Options.MaxAge < 0 {
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	if sess.ID == "" {
		return errors.New("session: sessions begin at sign-in")
	}
	data, err := encodeValues(sess.Values)
	if err != nil {
		return err
	}
	if err := s.db.SaveSessionData(r.Context(), models.HashToken(sess.ID), data); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	encoded, err := securecookie.EncodeMulti(sess.Name(), sess.ID, s.codecs...)
	if err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(sess.Name(), encoded, sess.Options))
	return nil
}

// Values are kept as JSON with string keys: readable, and no gob types to
// register.
func encodeValues(v map[interface{}]interface{}) (string, error) {
	m := make(map[string]interface{}, len(v))
	for k, val := range v {
		ks, ok := k.(string)
		if !ok {
			return "", fmt.Errorf("session: value key %v is not a string", k)
		}
		m[ks] = val
	}
	b, err := json.Marshal(m)
	return string(b), err
}

func decodeValues(data string, into map[interface{}]interface{}) error {
	if data == "" {
		return nil
	}
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		return fmt.Errorf("session: decode values: %w", err)
	}
	for k, v := range m {
		into[k] = v
	}
	return nil
}

// Touch records that the session was used, so the idle limit restarts.
func (s *Store) Touch(ctx context.Context, row *models.Session) error {
	return s.db.TouchSession(ctx, row)
}
