package models

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"ledgerdesk/models/text"
)

// Identity is a user's consumer-report identity (Plaid's
// consumer_report_user_identity), as typed: it is validated before use.
type Identity struct {
	FirstName    string
	LastName     string
	PhoneNumbers []string
	Emails       []string
	SSNFull      string // ddd-dd-dddd
	SSNLast4     string // dddd
	DateOfBirth  string // YYYY-MM-DD
	Address      Address
}

// Address is the identity's primary address.
type Address struct {
	Street     string
	City       string
	Region     string
	PostalCode string
	Country    string // ISO 3166-1 alpha-2
}

// Empty reports whether nothing at all was entered.
func (id *Identity) Empty() bool {
	return id == nil || (id.FirstName == "" && id.LastName == "" && len(id.PhoneNumbers) == 0 &&
		len(id.Emails) == 0 && id.SSNFull == "" && id.SSNLast4 == "" && id.DateOfBirth == "" && id.Address == Address{})
}

// Field names used in FieldErrors; forms and the API use the same names.
const (
	FieldClientUserID = "client_user_id"
	FieldFirstName    = "first_name"
	FieldLastName     = "last_name"
	FieldPhoneNumbers = "phone_numbers"
	FieldEmails       = "emails"
	FieldSSNFull      = "ssn_full"
	FieldSSNLast4     = "ssn_last_4"
	FieldDateOfBirth  = "date_of_birth"
	FieldStreet       = "street"
	FieldCity         = "city"
	FieldRegion       = "region"
	FieldPostalCode   = "postal_code"
	FieldCountry      = "country"
)

var (
	e164Pattern   = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)
	ssnPattern    = regexp.MustCompile(`^[0-9]{3}-[0-9]{2}-[0-9]{4}$`)
	last4Pattern  = regexp.MustCompile(`^[0-9]{4}$`)
	datePattern   = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	maxIdentities = 10 // phone numbers or emails per user
)

// Text rules of the identity's fields and the client_user_id (the seed's
// 1 to 128 characters).
var (
	clientUserIDRule = text.Line(128)
	nameRule         = text.Line(200) // names and address lines
	emailRule        = text.Line(MaxEmailLength)
	// A phone number and a country have a form of their own, checked
	// next with a message that shows it; these bounds only keep a
	// megabyte out of that message.
	phoneRule   = text.Line(32)
	countryRule = text.Line(16)
)

// ValidateClientUserID checks the seed's rule: 1 to 128 characters.
func ValidateClientUserID(s string, fields FieldErrors) {
	if strings.TrimSpace(s) == "" {
		fields.Add(FieldClientUserID, "Enter a client_user_id: your own identifier for this user.")
	} else if problem := clientUserIDRule.Problem(s); problem != "" {
		fields.Add(FieldClientUserID, problem)
	}
}

// Normalize trims what was typed and drops empty list entries.
func (id *Identity) Normalize() {
	id.FirstName = strings.TrimSpace(id.FirstName)
	id.LastName = strings.TrimSpace(id.LastName)
	id.PhoneNumbers = cleanList(id.PhoneNumbers, false)
	id.Emails = cleanList(id.Emails, true)
	id.SSNFull = strings.TrimSpace(id.SSNFull)
	id.SSNLast4 = strings.TrimSpace(id.SSNLast4)
	id.DateOfBirth = strings.TrimSpace(id.DateOfBirth)
	a := &id.Address
	a.Street, a.City = strings.TrimSpace(a.Street), strings.TrimSpace(a.City)
	a.Region = foldCase(strings.TrimSpace(a.Region), strings.ToUpper)
	a.PostalCode = strings.TrimSpace(a.PostalCode)
	a.Country = foldCase(strings.TrimSpace(a.Country), strings.ToUpper)
}

// foldCase changes the case of valid UTF-8 only: strings.ToLower would
// turn invalid bytes into U+FFFD, and hide them from the text rule that
// validation applies next.
func foldCase(s string, fold func(string) string) string {
	if !utf8.ValidString(s) {
		return s
	}
	return fold(s)
}

func cleanList(in []string, lower bool) []string {
	var out []string
	for _, v := range in {
		v = strings.TrimSpace(v)
		if lower {
			v = foldCase(v, strings.ToLower)
		}
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Validate checks a consumer-report identity against the seed's rules and
// records a message per field. now decides what "a past date" means.
func (id *Identity) Validate(fields FieldErrors, now time.Time) {
	required := func(field, value, label string) {
		if value == "" {
			fields.Add(field, "Enter the "+label+".")
		} else if problem := nameRule.Problem(value); problem != "" {
			fields.Add(field, problem)
		}
	}
	required(FieldFirstName, id.FirstName, "first name")
	required(FieldLastName, id.LastName, "last name")

	if len(id.PhoneNumbers) == 0 {
		fields.Add(FieldPhoneNumbers, "Enter at least one phone number in E.164 form, like +13125551212.")
	} else if len(id.PhoneNumbers) > maxIdentities {
		fields.Add(FieldPhoneNumbers, fmt.Sprintf("Enter at most %d phone numbers.", maxIdentities))
	}
	for _, p := range id.PhoneNumbers {
		if problem := phoneRule.Problem(p); problem != "" {
			fields.Add(FieldPhoneNumbers, problem)
		} else if !e164Pattern.MatchString(p) {
			fields.Add(FieldPhoneNumbers, fmt.Sprintf("%q is not an E.164 number: a + then the country code and number, digits only, like +13125551212.", p))
		}
	}
	if len(id.Emails) == 0 {
		fields.Add(FieldEmails, "Enter at least one email address.")
	} else if len(id.Emails) > maxIdentities {
		fields.Add(FieldEmails, fmt.Sprintf("Enter at most %d email addresses.", maxIdentities))
	}
	for _, e := range id.Emails {
		if problem := emailRule.Problem(e); problem != "" {
			fields.Add(FieldEmails, problem)
		} else if _, err := NormalizeEmail(e); err != nil {
			fields.Add(FieldEmails, fmt.Sprintf("%q is not an email address like name@example.com.", e))
		}
	}

	switch {
	case id.SSNFull != "" && id.SSNLast4 != "":
		msg := "Give either the full SSN or its last 4 digits, not both."
		fields.Add(FieldSSNFull, msg)
		fields.Add(FieldSSNLast4, msg)
	case id.SSNFull != "" && !ssnPattern.MatchString(id.SSNFull):
		fields.Add(FieldSSNFull, "Write the SSN as ddd-dd-dddd, like 123-45-6789.")
	case id.SSNLast4 != "" && !last4Pattern.MatchString(id.SSNLast4):
		fields.Add(FieldSSNLast4, "The last 4 of the SSN are exactly 4 digits.")
	}

	if id.DateOfBirth != "" {
		d, err := time.Parse("2006-01-02", id.DateOfBirth)
		switch {
		case !datePattern.MatchString(id.DateOfBirth) || err != nil:
			fields.Add(FieldDateOfBirth, "Write the date of birth as YYYY-MM-DD, a real date like 1987-01-31.")
		case !d.Before(now.Truncate(24 * time.Hour)):
			fields.Add(FieldDateOfBirth, "The date of birth must be in the past.")
		case d.Year() < 1900:
			fields.Add(FieldDateOfBirth, "The date of birth must be after 1900-01-01.")
		}
	}

	a := id.Address
	required(FieldStreet, a.Street, "street")
	required(FieldCity, a.City, "city")
	required(FieldRegion, a.Region, "state")
	required(FieldPostalCode, a.PostalCode, "ZIP code")
	// Consumer reports are for US users (see the country below): the region
	// is a state code and the postal code a ZIP.
	if _, refused := fields[FieldRegion]; !refused && !usStates[a.Region] {
		fields.Add(FieldRegion, fmt.Sprintf("%q is not a US state code: two letters like IL (a state, DC or a territory).", a.Region))
	}
	if _, refused := fields[FieldPostalCode]; !refused && !zipPattern.MatchString(a.PostalCode) {
		fields.Add(FieldPostalCode, "Write the ZIP code as 5 digits or ZIP+4, like 60657 or 60657-1234.")
	}
	switch {
	case a.Country == "":
		fields.Add(FieldCountry, "Enter the country as a two-letter ISO code, like US.")
	case !countryRule.Valid(a.Country):
		fields.Add(FieldCountry, countryRule.Problem(a.Country))
	case !IsCountryCode(a.Country):
		fields.Add(FieldCountry, fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 country code (like US).", a.Country))
	case a.Country != "US":
		fields.Add(FieldCountry, "Consumer reports are only for US-based users: the country must be US.")
	}
}

// searchText is what the list's search box looks through: name, emails and
// phone numbers, lower-cased, each term preceded by a space.
func (id *Identity) searchText() string {
	if id == nil {
		return ""
	}
	var b strings.Builder
	for _, t := range []string{id.FirstName + " " + id.LastName} {
		b.WriteString(" " + strings.ToLower(strings.TrimSpace(t)))
	}
	for _, e := range id.Emails {
		b.WriteString(" " + strings.ToLower(e))
	}
	for _, p := range id.PhoneNumbers {
		b.WriteString(" " + p)
	}
	return b.String()
}
