package handlers

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"ledgerdesk/models"
	"ledgerdesk/models/text"
)

// withRequest runs fn on a Fiber context for a request to uri carrying
// body as a posted form, as the handlers see it.
func withRequest(app *fiber.App, method, uri, body string, fn func(c *fiber.Ctx)) {
	fctx := &fasthttp.RequestCtx{}
	fctx.Request.Header.SetMethod(method)
	fctx.Request.SetRequestURI(uri)
	if body != "" {
		fctx.Request.Header.SetContentType(fiber.MIMEApplicationForm)
		fctx.Request.SetBodyString(body)
	}
	c := app.AcquireCtx(fctx)
	defer app.ReleaseCtx(c)
	fn(c)
}

// userFormFields are the names the user form's fields have, which are the
// names its errors are reported under.
var userFormFields = []string{models.FieldClientUserID, models.FieldFirstName, models.FieldLastName,
	models.FieldPhoneNumbers, models.FieldEmails, models.FieldSSNFull, models.FieldSSNLast4,
	models.FieldDateOfBirth, models.FieldStreet, models.FieldCity, models.FieldRegion,
	models.FieldPostalCode, models.FieldCountry}

// FuzzUserForm sends the create form through the parser the handler uses
// (fasthttp's form decoding, userFormValues, the lists split by line) and
// the models' validation. It must not panic; a form it takes stores only
// text the text rule accepts; a form it refuses names fields the form has.
func FuzzUserForm(f *testing.F) {
	app := fiber.New()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, clientUserID, first, last, phones, emails, ssn, last4, dob, street, city, region, postal, country string) {
		form := url.Values{}
		for i, v := range []string{clientUserID, first, last, phones, emails, ssn, last4, dob, street, city, region, postal, country} {
			form.Set(userFormFields[i], v)
		}
		withRequest(app, fiber.MethodPost, "/users", form.Encode(), func(c *fiber.Ctx) {
			values := userFormValues(c)
			fields := models.FieldErrors{}
			models.ValidateClientUserID(values.ClientUserID, fields)
			ident := values.Identity()
			if !ident.Empty() {
				ident.Normalize()
				ident.Validate(fields, now)
			}
			for name, msg := range fields {
				if !slices.Contains(userFormFields, name) || msg == "" || !utf8.ValidString(msg) {
					t.Fatalf("refused under %q with %q: not a field of the form", name, msg)
				}
			}
			if len(fields) > 0 {
				return
			}
			stored := map[string][]string{models.FieldClientUserID: {values.ClientUserID}}
			if ident != nil {
				a := ident.Address
				for name, v := range map[string]string{models.FieldFirstName: ident.FirstName, models.FieldLastName: ident.LastName,
					models.FieldSSNFull: ident.SSNFull, models.FieldSSNLast4: ident.SSNLast4, models.FieldDateOfBirth: ident.DateOfBirth,
					models.FieldStreet: a.Street, models.FieldCity: a.City, models.FieldRegion: a.Region,
					models.FieldPostalCode: a.PostalCode, models.FieldCountry: a.Country} {
					stored[name] = []string{v}
				}
				stored[models.FieldPhoneNumbers], stored[models.FieldEmails] = ident.PhoneNumbers, ident.Emails
			}
			for name, vs := range stored {
				rule := text.Line(200)
				switch name {
				case models.FieldClientUserID:
					rule = text.Line(128)
				case models.FieldEmails:
					rule = text.Line(models.MaxEmailLength)
				}
				for _, v := range vs {
					if p := rule.Problem(v); p != "" {
						t.Fatalf("%s %q accepted, but %s", name, v, p)
					}
				}
			}
			if strings.TrimSpace(values.ClientUserID) == "" {
				t.Fatalf("client_user_id %q accepted", values.ClientUserID)
			}
		})
	})
}

// auditFilterFields are the audit filter's fields.
var auditFilterFields = []string{"actor", "action", "target_type", "target_id", "from", "to", "request_id", "ip", "accessed"}

// FuzzListFilters reads a query string as the users, team and audit lists
// do. It must not panic; a filter they take reaches the database only as
// text the text rule accepts; one they refuse names its query parameter.
func FuzzListFilters(f *testing.F) {
	app := fiber.New()
	f.Fuzz(func(t *testing.T, query string) {
		withRequest(app, fiber.MethodGet, "/list?"+query, "", func(c *fiber.Ctx) {
			named := func(err error, allowed []string) bool {
				merr, ok := err.(*models.Error)
				if !ok || merr.Kind != models.KindInvalid || len(merr.Fields) == 0 {
					t.Fatalf("refused with %v, want field errors", err)
				}
				for name := range merr.Fields {
					if !slices.Contains(allowed, name) {
						t.Fatalf("refused under %q, not one of %v", name, allowed)
					}
				}
				return true
			}

			users := models.UserPageRequest{Filter: models.UserFilter{Search: c.Query("q"), Status: c.Query("status"),
				Health: c.Query("health"), Institution: c.Query("institution")}}
			if err := users.Filter.Validate(); err != nil {
				named(err, []string{"q", "institution"})
			} else {
				users.Normalize()
				if !text.Line(200).Valid(users.Filter.Search) || !text.Key.Valid(users.Filter.Institution) {
					t.Fatalf("users filter %+v taken", users.Filter)
				}
			}

			team := models.MemberPageRequest{Filter: models.MemberFilter{Search: c.Query("q"), Status: c.Query("status"), Role: c.Query("role")}}
			if err := team.Filter.Validate(); err != nil {
				named(err, []string{"q"})
			} else {
				team.Normalize()
				if !text.Line(200).Valid(team.Filter.Search) {
					t.Fatalf("team search %q taken", team.Filter.Search)
				}
			}

			af, err := models.ParseAuditFilter(auditFilterInput(c.Query))
			if err != nil {
				named(err, auditFilterFields)
				return
			}
			for _, v := range []string{af.Actor, af.Action, af.TargetType, af.TargetID, af.RequestID, af.IP, af.Accessed} {
				if !text.Line(200).Valid(v) || v != strings.TrimSpace(v) {
					t.Fatalf("audit filter value %+q taken", v)
				}
			}
		})
	})
}
