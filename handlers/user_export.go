package handlers

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// userExportColumns is the users export's column order (CSV header, JSON
// key order). It only ever grows at the end. The SSN and date of birth
// are never exported, whatever the field policy: they are revealed one
// user at a time, with a reason; ssn_on_file says whether there is one.
var userExportColumns = []string{"id", "user_id", "client_user_id", "created_at", "updated_at", "removed_at",
	"first_name", "last_name", "emails", "phone_numbers", "address_street", "address_city", "address_region",
	"address_postal_code", "address_country", "ssn_on_file", "item_count", "error_item_count", "next_consent_expiration"}

// userExportLine is one JSON line; its field order is userExportColumns.
type userExportLine struct {
	ID                    int64    `json:"id"`
	UserID                string   `json:"user_id"`
	ClientUserID          string   `json:"client_user_id"`
	CreatedAt             string   `json:"created_at"`
	UpdatedAt             string   `json:"updated_at"`
	RemovedAt             string   `json:"removed_at"`
	FirstName             string   `json:"first_name"`
	LastName              string   `json:"last_name"`
	Emails                []string `json:"emails"`
	PhoneNumbers          []string `json:"phone_numbers"`
	AddressStreet         string   `json:"address_street"`
	AddressCity           string   `json:"address_city"`
	AddressRegion         string   `json:"address_region"`
	AddressPostalCode     string   `json:"address_postal_code"`
	AddressCountry        string   `json:"address_country"`
	SSNOnFile             string   `json:"ssn_on_file"` // "", "full" or "last4"
	ItemCount             int      `json:"item_count"`
	ErrorItemCount        int      `json:"error_item_count"`
	NextConsentExpiration string   `json:"next_consent_expiration"`
}

// UserExport streams the users the posted filter or ticked ids select
// (POST /users/export) as CSV or JSON lines, newest first, batch by batch: the
// whole result is never in memory. The export is audited (user.export,
// with the selection) before the first row goes out and covers the users
// created up to that entry.
func (h *Handler) UserExport(c *fiber.Ctx) error {
	format, err := exportFormat(c)
	if err != nil {
		return err
	}
	access := h.fieldAccess(c)
	// The list's own export button sends its filter alone; a batch
	// selection says which scope it takes.
	a := c.Context().PostArgs()
	in := models.UserSelection{ByFilter: true, Filter: userFilterOf(a, access)}
	if len(a.Peek("scope")) > 0 {
		if in, err = userSelectionOf(a, access); err != nil {
			return err
		}
	}
	release, err := h.exports.enter(c, exportsBusy)
	if err != nil {
		return err
	}
	x, err := h.DB.RecordUserExport(c.UserContext(), current.Origin(c), in, format, userExportFields(access))
	if err != nil {
		release()
		return err
	}
	name := fmt.Sprintf("ledgerdesk-users-%s.%s", x.UpTo.Format("20060102T150405Z"), format)
	h.streamExport(c, "users", name, format, userExportColumns, release, func(ctx context.Context, s *exportStream) error {
		return h.DB.EachExportedUser(ctx, x, func(u *models.EndUser) error {
			line := newUserExportLine(access, u)
			return s.write(line.csvRecord, line)
		})
	})
	return nil
}

// userExportFields are the personal fields every exported row carries as
// the member's field access shows them, as the export's access entry
// records them: in clear when visible, masked when masked or revealable,
// left out when hidden; ssn_on_file says only whether an SSN is held, so
// the SSN counts as masked.
func userExportFields(access models.FieldAccess) models.AccessFields {
	var f models.AccessFields
	for _, c := range []struct {
		field models.PersonalField
		names []string
	}{
		{models.PolicyNames, []string{models.FieldFirstName, models.FieldLastName}},
		{models.PolicyEmails, []string{models.FieldEmails}},
		{models.PolicyPhones, []string{models.FieldPhoneNumbers}},
		{models.PolicyAddress, []string{"primary_address"}},
	} {
		switch access.State(c.field) {
		case models.FieldVisible:
			f.Clear = append(f.Clear, c.names...)
		case models.FieldMasked, models.FieldReveal:
			f.Masked = append(f.Masked, c.names...)
		}
	}
	if access.State(models.PolicySSN) != models.FieldHidden {
		f.Masked = append(f.Masked, "ssn")
	}
	return f
}

// newUserExportLine is one user as the member's field access shows them:
// a value as on the user's page before any reveal, a hidden field empty
// (a hidden SSN leaves ssn_on_file empty too).
func newUserExportLine(access models.FieldAccess, u *models.EndUser) userExportLine {
	addr := access.ShowAddress(models.Address{Street: u.AddressStreet, City: u.AddressCity, Region: u.AddressRegion,
		PostalCode: u.AddressPostalCode, Country: u.AddressCountry})
	ssnOnFile := u.SSNKind
	if access.State(models.PolicySSN) == models.FieldHidden {
		ssnOnFile = ""
	}
	return userExportLine{ID: u.ID, UserID: u.UserID, ClientUserID: u.ClientUserID,
		CreatedAt: exportTime(&u.CreatedAt), UpdatedAt: exportTime(&u.UpdatedAt), RemovedAt: exportTime(u.RemovedAt),
		FirstName: access.Show(models.PolicyNames, u.FirstName).Value, LastName: access.Show(models.PolicyNames, u.LastName).Value,
		Emails:        nonNil(access.ShowList(models.PolicyEmails, u.Emails).Values),
		PhoneNumbers:  nonNil(access.ShowList(models.PolicyPhones, u.PhoneNumbers).Values),
		AddressStreet: addr.Street, AddressCity: addr.City, AddressRegion: addr.Region,
		AddressPostalCode: addr.PostalCode, AddressCountry: addr.Country, SSNOnFile: ssnOnFile,
		ItemCount: u.ItemCount, ErrorItemCount: u.ErrorItemCount, NextConsentExpiration: exportTime(u.NextConsentExpiration)}
}

func exportTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (l userExportLine) csvRecord() []string {
	list := func(s []string) string {
		out := make([]string, len(s))
		for i, v := range s {
			out[i] = cell(v)
		}
		return strings.Join(out, "; ")
	}
	return []string{strconv.FormatInt(l.ID, 10), l.UserID, cell(l.ClientUserID), l.CreatedAt, l.UpdatedAt, l.RemovedAt,
		cell(l.FirstName), cell(l.LastName), list(l.Emails), list(l.PhoneNumbers), cell(l.AddressStreet),
		cell(l.AddressCity), cell(l.AddressRegion), cell(l.AddressPostalCode), cell(l.AddressCountry), l.SSNOnFile,
		strconv.Itoa(l.ItemCount), strconv.Itoa(l.ErrorItemCount), l.NextConsentExpiration}
}
