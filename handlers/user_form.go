package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// userFormValues reads the create/edit form exactly as typed (copied: the
// values outlive fasthttp's buffers).
func userFormValues(c *fiber.Ctx) pages.UserFormValues {
	v := func(name string) string { return utils.CopyString(c.FormValue(name)) }
	return pages.UserFormValues{
		ClientUserID: v(models.FieldClientUserID),
		FirstName:    v(models.FieldFirstName),
		LastName:     v(models.FieldLastName),
		PhoneNumbers: v(models.FieldPhoneNumbers),
		Emails:       v(models.FieldEmails),
		SSNFull:      v(models.FieldSSNFull),
		SSNLast4:     v(models.FieldSSNLast4),
		DateOfBirth:  v(models.FieldDateOfBirth),
		Street:       v(models.FieldStreet),
		City:         v(models.FieldCity),
		Region:       v(models.FieldRegion),
		PostalCode:   v(models.FieldPostalCode),
		Country:      v(models.FieldCountry),
	}
}

// formValuesOf fills the edit form from a stored identity. SSN and date
// of birth are left empty: the form never carries them in clear. Sent
// back empty, they keep the stored values (the form shows them masked
// beside the field); a checkbox removes them.
func formValuesOf(id *models.Identity) pages.UserFormValues {
	if id == nil {
		return pages.UserFormValues{Country: "US"}
	}
	return pages.UserFormValues{
		FirstName: id.FirstName, LastName: id.LastName,
		PhoneNumbers: strings.Join(id.PhoneNumbers, "\n"), Emails: strings.Join(id.Emails, "\n"),
		Street: id.Address.Street, City: id.Address.City, Region: id.Address.Region,
		PostalCode: id.Address.PostalCode, Country: id.Address.Country,
	}
}

// maskIdentity is what the detail page may show of an identity.
func maskIdentity(id *models.Identity) *pages.MaskedIdentity {
	if id == nil {
		return nil
	}
	kind := "full"
	if id.SSNLast4 != "" {
		kind = "last4"
	}
	return &pages.MaskedIdentity{
		FirstName: id.FirstName, LastName: id.LastName,
		PhoneNumbers: id.PhoneNumbers, Emails: id.Emails,
		SSN: models.MaskSSN(id.SSNFull + id.SSNLast4), SSNKind: kind,
		DateOfBirth: models.MaskDate(id.DateOfBirth),
		Address:     id.Address,
	}
}
