package apijson_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"ledgerdesk/handlers/apijson"
	"ledgerdesk/models/text"
)

// readAsHandlers reads a body the way the API's authentication and
// handlers do, and returns each value read by its path with the rule it
// was read under.
func readAsHandlers(b *apijson.Body) (values map[string][]string, rules map[string]text.Rule, badCredential bool) {
	values, rules = map[string][]string{}, map[string]text.Rule{}
	one := func(path string, rule text.Rule, v string) {
		values[path], rules[path] = append(values[path], v), rule
	}
	for _, name := range []string{"client_id", "secret"} {
		v, ok := b.Credential(name)
		badCredential = badCredential || !ok
		one(name, text.Key, v)
	}
	for _, name := range []string{"user_id", "user_token", "dashboard_user_id", "cursor"} {
		one(name, text.Key, b.Key(name, false))
	}
	for _, v := range b.Keys("item_ids", false) {
		one("item_ids", text.Key, v)
	}
	one("client_user_id", text.Rule{}, b.String("client_user_id", false))
	if id := apijson.Identity(b.Object("consumer_report_user_identity", false)); id != nil {
		const p = "consumer_report_user_identity."
		for name, v := range map[string]string{"first_name": id.FirstName, "last_name": id.LastName,
			"ssn_full": id.SSNFull, "ssn_last_4": id.SSNLast4, "date_of_birth": id.DateOfBirth,
			"primary_address.street": id.Address.Street, "primary_address.city": id.Address.City,
			"primary_address.region": id.Address.Region, "primary_address.postal_code": id.Address.PostalCode,
			"primary_address.country": id.Address.Country} {
			one(p+name, text.Rule{}, v)
		}
		for _, v := range id.PhoneNumbers {
			one(p+"phone_numbers", text.Rule{}, v)
		}
		for _, v := range id.Emails {
			one(p+"emails", text.Rule{}, v)
		}
	}
	return values, rules, badCredential
}

// parse runs ParseBody on body sent as JSON.
func parse(app *fiber.App, body []byte) (*apijson.Body, error) {
	fctx := &fasthttp.RequestCtx{}
	fctx.Request.Header.SetMethod(fiber.MethodPost)
	fctx.Request.Header.SetContentType(fiber.MIMEApplicationJSON)
	fctx.Request.SetBody(body)
	c := app.AcquireCtx(fctx)
	defer app.ReleaseCtx(c)
	return apijson.ParseBody(c)
}

// FuzzParseBody: whatever the body, the reader does not panic; a body it
// takes yields only values that follow the text rule they were read
// under; a refused value is reported as MISSING_FIELDS or INVALID_FIELD
// naming a field that was read, and is never handed on; and a string that
// follows the rule in its raw bytes is never refused.
func FuzzParseBody(f *testing.F) {
	app := fiber.New()
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := parse(app, body)
		if err != nil {
			var perr *apijson.PlaidError
			if !errors.As(err, &perr) || perr.ErrorCode != apijson.CodeInvalidBody || perr.Status != 400 {
				t.Fatalf("refused body: %v, want INVALID_BODY", err)
			}
			return
		}
		values, rules, _ := readAsHandlers(b)
		for path, vs := range values {
			for _, v := range vs {
				if p := rules[path].Problem(v); p != "" || !utf8.ValidString(v) {
					t.Fatalf("%s read as %q, which breaks the rule: %s", path, v, p)
				}
			}
		}
		err = b.Err()
		if err != nil {
			var perr *apijson.PlaidError
			if !errors.As(err, &perr) || perr.Status != 400 {
				t.Fatalf("Err() = %v, want a Plaid 400", err)
			}
			switch perr.ErrorCode {
			case apijson.CodeMissingFields:
			case apijson.CodeInvalidField:
				field, _, ok := strings.Cut(perr.ErrorMessage, ": ")
				if _, read := rules[field]; !ok || (!read && !slices.Contains([]string{"item_ids",
					"consumer_report_user_identity", "consumer_report_user_identity.primary_address",
					"consumer_report_user_identity.phone_numbers", "consumer_report_user_identity.emails"}, field)) {
					t.Fatalf("INVALID_FIELD names no field that was read: %q", perr.ErrorMessage)
				}
			default:
				t.Fatalf("Err() = %s", perr.ErrorCode)
			}
		}
		// A top-level string whose raw bytes follow the rule is taken as
		// encoding/json reads it.
		var top map[string]json.RawMessage
		if json.Unmarshal(body, &top) != nil {
			return
		}
		for _, name := range []string{"client_user_id", "user_id", "dashboard_user_id", "cursor"} {
			raw, ok := top[name]
			var s string
			if !ok || json.Unmarshal(raw, &s) != nil || !utf8.Valid(raw) || strings.Contains(strings.ToLower(string(raw)), `\ud`) {
				continue
			}
			if rules[name].Valid(s) && err == nil && values[name][0] != s {
				t.Fatalf("%s %q read as %q", name, s, values[name][0])
			}
			if !rules[name].Valid(s) && err == nil {
				t.Fatalf("%s %q breaks the rule, and the body was taken", name, s)
			}
		}
	})
}

func TestParseBody_ChecksRawBytesNotWhatEncodingJSONMakesOfThem(t *testing.T) {
	app := fiber.New()
	for _, tc := range []struct {
		body, field, want string
	}{
		{"{\"user_id\":\"abc\xff\"}", "user_id", "UTF-8"},
		{`{"user_id":"abc\ud800"}`, "user_id", "UTF-8"},
		{`{"user_id":"abc\u0000"}`, "user_id", "U+0000"},
		{`{"user_id":"ab\u202ec"}`, "user_id", "U+202E"},
		{`{"user_id":"ab\u200bc"}`, "user_id", "U+200B"},
		{`{"user_id":"` + strings.Repeat("a", text.MaxKey+1) + `"}`, "user_id", "at most"},
		{`{"client_user_id":"line\nbreak"}`, "client_user_id", "one line"},
		{"{\"item_ids\":[\"ok\",\"b\xc3\"]}", "item_ids", "UTF-8"},
		{`{"consumer_report_user_identity":{"first_name":"Carmen","last_name":"Berzatto","phone_numbers":["+13125551212"],` +
			`"emails":["carmy@example.com"],"primary_address":{"street":"3200 W Armitage Ave","region":"IL",` +
			"\"postal_code\":\"60657\",\"country\":\"US\",\"city\":\"Chi\xffcago\"}}}",
			"consumer_report_user_identity.primary_address.city", "UTF-8"},
	} {
		b, err := parse(app, []byte(tc.body))
		if err != nil {
			t.Fatalf("%q: %v", tc.body, err)
		}
		readAsHandlers(b)
		var perr *apijson.PlaidError
		err = b.Err()
		if !errors.As(err, &perr) || perr.ErrorCode != apijson.CodeInvalidField ||
			!strings.HasPrefix(perr.ErrorMessage, tc.field+": ") || !strings.Contains(perr.ErrorMessage, tc.want) {
			t.Errorf("%q: %v, want INVALID_FIELD %s mentioning %q", tc.body, err, tc.field, tc.want)
		}
	}
	// A good value is read as sent, escapes and all.
	b, _ := parse(app, []byte(`{"user_id":"caf\u00e9 \ud83c\udfe6","client_id":"k\u0031"}`))
	if got := b.Key("user_id", true); got != "café 🏦" || b.Err() != nil {
		t.Errorf("user_id = %q, %v", got, b.Err())
	}
	// A credential with bad bytes is not named: the caller answers
	// INVALID_API_KEYS.
	b, _ = parse(app, []byte("{\"client_id\":\"k\xff\",\"secret\":\"s\"}"))
	if _, ok := b.Credential("client_id"); ok || b.Err() != nil {
		t.Errorf("bad client_id: ok %v, Err %v", ok, b.Err())
	}
}
