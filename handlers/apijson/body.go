package apijson

import (
	"bytes"
	"encoding/json"
	"mime"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/models/text"
)

// Body is a Plaid-style request body: one JSON object. Readers note what
// is missing or of the wrong type as they go; Err reports it the way Plaid
// does (every missing field at once, else the first invalid one).
type Body struct {
	fields map[string]json.RawMessage
	prefix string
	errs   *bodyErrors
}

type bodyErrors struct {
	missing []string
	invalid *PlaidError
}

// ParseBody reads the request as a JSON object. A body sent with another
// content type, or that is not one JSON object, is INVALID_BODY.
func ParseBody(c *fiber.Ctx) (*Body, error) {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != fiber.MIMEApplicationJSON {
		return nil, InvalidBody("the request body must be JSON, sent with Content-Type: application/json")
	}
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return nil, InvalidBody("the request body is not a valid JSON object")
	}
	if dec.More() {
		return nil, InvalidBody("the request body holds more than one JSON value")
	}
	return &Body{fields: fields, errs: &bodyErrors{}}, nil
}

func (b *Body) path(name string) string { return b.prefix + name }

// raw is the field's value, or nil when absent or null.
func (b *Body) raw(name string) json.RawMessage {
	v, ok := b.fields[name]
	if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return nil
	}
	return v
}

// Has reports whether the field is present and not null.
func (b *Body) Has(name string) bool { return b.raw(name) != nil }

func (b *Body) missing(name string) { b.errs.missing = append(b.errs.missing, b.path(name)) }

func (b *Body) invalid(name, why string) {
	if b.errs.invalid == nil {
		b.errs.invalid = InvalidField(b.path(name), why)
	}
}

// String reads a string field of a single line. The models bound each
// field's length; a value that breaks the text rule in any other way
// (invalid UTF-8, a control, direction or zero-width character) is
// INVALID_FIELD naming the field.
func (b *Body) String(name string, required bool) string {
	return b.text(name, required, text.Rule{})
}

// Key reads a lookup key (an id, a token, a cursor), under text.Key.
func (b *Body) Key(name string, required bool) string {
	return b.text(name, required, text.Key)
}

func (b *Body) text(name string, required bool, rule text.Rule) string {
	v := b.raw(name)
	if v == nil {
		if required {
			b.missing(name)
		}
		return ""
	}
	s, problem := decodeText(v, rule)
	if problem != "" {
		b.invalid(name, problem)
	}
	return s
}

// decodeText reads one JSON string and checks it against rule. It reads
// the raw bytes: encoding/json would quietly turn invalid UTF-8 (and an
// unpaired surrogate escape) into U+FFFD and hide it from the rule.
func decodeText(v json.RawMessage, rule text.Rule) (s, problem string) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || v[0] != '"' {
		return "", "must be a string"
	}
	out, err := jsontext.AppendUnquote(nil, v)
	if err != nil {
		return "", text.NotUTF8
	}
	s = string(out)
	if problem := rule.Problem(s); problem != "" {
		return "", problem
	}
	return s, ""
}

// Strings reads an array of single-line strings, each as String does.
func (b *Body) Strings(name string, required bool) []string {
	return b.texts(name, required, text.Rule{})
}

// Keys reads an array of lookup keys.
func (b *Body) Keys(name string, required bool) []string {
	return b.texts(name, required, text.Key)
}

func (b *Body) texts(name string, required bool, rule text.Rule) []string {
	v := b.raw(name)
	if v == nil {
		if required {
			b.missing(name)
		}
		return nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(v, &raws); err != nil || raws == nil {
		b.invalid(name, "must be an array of strings")
		return nil
	}
	out := make([]string, 0, len(raws))
	for _, r := range raws {
		s, problem := decodeText(r, rule)
		if problem == "must be a string" {
			problem = "must be an array of strings"
		}
		if problem != "" {
			b.invalid(name, problem)
			return nil
		}
		out = append(out, s)
	}
	return out
}

// Credential reads client_id or secret. ok is false when the value is
// present but breaks text.Key: the caller answers INVALID_API_KEYS, as
// for any wrong credential, rather than naming the field.
func (b *Body) Credential(name string) (value string, ok bool) {
	v := b.raw(name)
	if v == nil {
		return "", true
	}
	s, problem := decodeText(v, text.Key)
	switch {
	case problem == "must be a string":
		b.invalid(name, problem)
		return "", true
	case problem != "":
		return "", false
	}
	return s, true
}

// Object reads a nested object; nil when it is absent (or invalid).
func (b *Body) Object(name string, required bool) *Body {
	v := b.raw(name)
	if v == nil {
		if required {
			b.missing(name)
		}
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(v, &fields); err != nil {
		b.invalid(name, "must be an object")
		return nil
	}
	return &Body{fields: fields, prefix: b.path(name) + ".", errs: b.errs}
}

// Err is MISSING_FIELDS naming every missing field, else INVALID_FIELD
// naming the first field of the wrong type, else nil.
func (b *Body) Err() error {
	switch {
	case len(b.errs.missing) > 0:
		return MissingFields(b.errs.missing...)
	case b.errs.invalid != nil:
		return b.errs.invalid
	}
	return nil
}

// Missing records a required field found absent after reading, such as
// one of two fields of which either will do.
func (b *Body) Missing(name string) { b.missing(name) }

const bodyKey = "ledgerdesk.api.body"

// SetBody keeps the parsed body for the handler.
func SetBody(c *fiber.Ctx, b *Body) { c.Locals(bodyKey, b) }

// BodyOf is the body the API middleware parsed.
func BodyOf(c *fiber.Ctx) *Body {
	b, _ := c.Locals(bodyKey).(*Body)
	if b == nil {
		return &Body{fields: map[string]json.RawMessage{}, errs: &bodyErrors{}}
	}
	return b
}
