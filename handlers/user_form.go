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

// editableFields are the fields the identity form shows and saves in
// clear; the SSN and date of birth it only ever replaces or keeps.
var editableFields = []models.PersonalField{models.PolicyNames, models.PolicyEmails, models.PolicyPhones, models.PolicyAddress}

// refuseBlindEdit refuses the identity form to a member the field policy
// does not show every field it edits in clear: saving it would write over
// values they cannot see. The policy's own rule keeps these visible to
// admins, so this holds only if that rule is ever loosened.
func refuseBlindEdit(access models.FieldAccess) error {
	for _, f := range editableFields {
		if access.State(f) != models.FieldVisible {
			return &models.Error{Kind: models.KindForbidden,
				Message: "The field policy does not show you this user's " + strings.ToLower(f.Label()) + ", so you cannot edit their identity."}
		}
	}
	return nil
}

// storedSealed is what the form says beside the SSN and date of birth of
// the stored identity: their values as the field policy shows them.
func storedSealed(access models.FieldAccess, id *models.Identity) (ssn, dob string) {
	if id == nil {
		return "", ""
	}
	return access.Show(models.PolicySSN, id.SSNFull+id.SSNLast4).Value, access.Show(models.PolicyDOB, id.DateOfBirth).Value
}
