package models_test

import (
	"errors"
	"slices"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

func TestFieldPolicy_DefaultsAsTheIssueSays(t *testing.T) {
	p := models.DefaultFieldPolicy()
	for _, r := range models.Roles {
		for _, f := range models.PersonalFields {
			want := models.FieldVisible
			switch {
			case r == models.RoleAuditor:
				want = models.FieldMasked
			case f == models.PolicySSN || f == models.PolicyDOB:
				want = models.FieldReveal
			}
			if got := p.State(r, f); got != want {
				t.Errorf("%s/%s = %s, want %s", r, f, got, want)
			}
		}
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("the default policy is refused: %v", err)
	}
	// An unknown role is shown nothing.
	if got := p.State("intern", models.PolicyNames); got != models.FieldHidden {
		t.Errorf("unknown role: %s", got)
	}
}

func TestFieldPolicy_Masks(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{models.MaskEmail("jane.doe@gmail.com"), "j•••@gmail.com"},
		{models.MaskEmail("élodie@example.fr"), "é•••@example.fr"},
		{models.MaskPhone("+13125554821"), "+1 ••• ••• 4821"},
		{models.MaskPhone("+447911123456"), "+44 ••• ••• 3456"},
		{models.MaskPhone("+35312345678"), "+353 ••• ••• 5678"},
		{models.MaskPhone("+79261234567"), "+7 ••• ••• 4567"},
		{models.MaskPhone("12"), "•••"},
		{models.MaskName("Mary Ann"), "M••• A•••"},
		{models.MaskName("Ólafur"), "Ó•••"},
		{models.MaskName("\xff\xfe"), "••••"},
		{models.MaskSSN("123-45-6789"), "***-**-6789"},
		{models.MaskDate("1987-01-31"), "****-**-**"},
	} {
		if tc.got != tc.want {
			t.Errorf("mask %q, want %q", tc.got, tc.want)
		}
	}
	a := models.DefaultFieldPolicy().For(models.RoleAuditor)
	addr := a.ShowAddress(models.Address{Street: "1 Main St", City: "Chicago", Region: "IL", PostalCode: "60601", Country: "US"})
	if addr.Street != "•••" || addr.PostalCode != "•••" || addr.City != "Chicago" || addr.Region != "IL" || addr.Country != "US" {
		t.Errorf("masked address %+v", addr.Address)
	}
	hidden := models.DefaultFieldPolicy().With(models.RoleAuditor, models.PolicyEmails, models.FieldHidden).For(models.RoleAuditor)
	if s := hidden.ShowList(models.PolicyEmails, []string{"a@b.example"}); !s.Hidden() || s.Values != nil {
		t.Errorf("hidden list shows %v", s.Values)
	}
}

func TestFieldPolicy_ValidateNamesEachRefusedCell(t *testing.T) {
	base := models.DefaultFieldPolicy()
	for _, tc := range []struct {
		name string
		p    models.FieldPolicy
		cell string
	}{
		{"auditor reveals", base.With(models.RoleAuditor, models.PolicyEmails, models.FieldReveal), "auditor.emails"},
		{"auditor sees the SSN", base.With(models.RoleAuditor, models.PolicySSN, models.FieldVisible), "auditor.ssn"},
		{"admin masks names", base.With(models.RoleAdmin, models.PolicyNames, models.FieldMasked), "admin.names"},
		{"admin hides the address", base.With(models.RoleAdmin, models.PolicyAddress, models.FieldHidden), "admin.address"},
		{"no one reads the SSN", base.With(models.RoleAdmin, models.PolicySSN, models.FieldMasked).
			With(models.RoleCompliance, models.PolicySSN, models.FieldHidden), "admin.ssn"},
		{"unknown state", base.With(models.RoleCompliance, models.PolicyPhones, "sometimes"), "compliance.phone_numbers"},
	} {
		err := tc.p.Validate()
		var merr *models.Error
		if !errors.As(err, &merr) || merr.Kind != models.KindInvalid || merr.Fields[tc.cell] == "" {
			t.Errorf("%s: %v, want %s refused", tc.name, err, tc.cell)
		}
	}
	// Allowed: compliance may hide anything while admins can read the
	// sealed values; auditors may see names in clear.
	ok := base.With(models.RoleCompliance, models.PolicySSN, models.FieldHidden).
		With(models.RoleAuditor, models.PolicyNames, models.FieldVisible).
		With(models.RoleAdmin, models.PolicyDOB, models.FieldVisible)
	if err := ok.Validate(); err != nil {
		t.Errorf("a valid policy refused: %v", err)
	}
}

func TestFieldPolicy_StoredAuditedAndReadBack(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		p, err := db.FieldPolicy(ctx)
		if err != nil || !p.Equal(models.DefaultFieldPolicy()) {
			t.Fatalf("no row: %v, want the default policy", err)
		}
		next := p.With(models.RoleAuditor, models.PolicyNames, models.FieldVisible)
		if changed, err := db.UpdateFieldPolicy(ctx, adminOrigin, next); err != nil || !changed {
			t.Fatalf("update: %v %v", changed, err)
		}
		if changed, err := db.UpdateFieldPolicy(ctx, adminOrigin, next); err != nil || changed {
			t.Fatalf("same policy again: %v %v, want nothing changed", changed, err)
		}
		got, err := db.FieldPolicy(ctx)
		if err != nil || !got.Equal(next) {
			t.Fatalf("read back: %v", err)
		}
		es := entriesWithAction(t, db, "settings.update")
		if len(es) != 1 {
			t.Fatalf("%d settings.update entries, want 1", len(es))
		}
		d := es[0].DecodeDiff()
		if d.Before["field_policy.auditor.names"] != "masked" || d.After["field_policy.auditor.names"] != "visible" || len(d.After) != 1 {
			t.Errorf("diff %+v", d)
		}
		before := entries(t, db)
		bad := next.With(models.RoleAuditor, models.PolicySSN, models.FieldReveal)
		if _, err := db.UpdateFieldPolicy(ctx, adminOrigin, bad); err == nil {
			t.Fatal("a refused policy was saved")
		}
		if len(entries(t, db)) != len(before) {
			t.Fatal("a refused policy wrote an entry")
		}
	})
}

func TestFieldPolicy_StoreFailureSavesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		stop := testdb.FailOn(t, db, testdb.Create, "settings")
		next := models.DefaultFieldPolicy().With(models.RoleAuditor, models.PolicyNames, models.FieldHidden)
		if _, err := db.UpdateFieldPolicy(ctx, adminOrigin, next); err == nil {
			t.Fatal("a failed write reported success")
		}
		stop()
		// A failed read is an error too, never the default policy.
		stopRead := testdb.FailOn(t, db, testdb.Query, "settings")
		if _, err := db.FieldPolicy(ctx); err == nil {
			t.Fatal("a failed read reported a policy")
		}
		stopRead()
		if p, err := db.FieldPolicy(ctx); err != nil || !p.Equal(models.DefaultFieldPolicy()) {
			t.Fatalf("policy after a failed write: %v", err)
		}
		if n := len(entriesWithAction(t, db, "settings.update")); n != 0 {
			t.Fatalf("%d entries after a failed write", n)
		}
	})
}

func TestRevealPII_OnlyWhereThePolicySaysReveal(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "policy-reveal", carmen())
		// Default: compliance reveals the SSN, sees names (no reveal),
		// auditors reveal nothing.
		if v, err := db.RevealPII(ctx, adminOrigin, models.RoleCompliance, c.User.ID, "ssn", "dispute 4411 check"); err != nil || v != "123-45-6789" {
			t.Fatalf("compliance SSN: %q %v", v, err)
		}
		for _, tc := range []struct {
			role  models.Role
			field string
		}{{models.RoleCompliance, "names"}, {models.RoleAuditor, "ssn"}, {models.RoleAuditor, "emails"}} {
			n := len(entries(t, db))
			v, err := db.RevealPII(ctx, adminOrigin, tc.role, c.User.ID, tc.field, "dispute 4411 check")
			domainError(t, err, models.KindForbidden)
			if v != "" || len(entries(t, db)) != n {
				t.Fatalf("%s/%s: revealed %q or wrote an entry", tc.role, tc.field, v)
			}
		}
		// Once the policy says reveal, names and emails reveal too.
		p := models.DefaultFieldPolicy().With(models.RoleCompliance, models.PolicyEmails, models.FieldReveal).
			With(models.RoleCompliance, models.PolicyAddress, models.FieldReveal)
		if _, err := db.UpdateFieldPolicy(ctx, adminOrigin, p); err != nil {
			t.Fatal(err)
		}
		if v, err := db.RevealPII(ctx, adminOrigin, models.RoleCompliance, c.User.ID, "emails", "dispute 4411 check"); err != nil || v != "carmy@example.com, bear@example.com" {
			t.Fatalf("emails: %q %v", v, err)
		}
		if v, err := db.RevealPII(ctx, adminOrigin, models.RoleCompliance, c.User.ID, "address", "dispute 4411 check"); err != nil || v != "3200 W Armitage Ave, Chicago, IL 60657, US" {
			t.Fatalf("address: %q %v", v, err)
		}
	})
}

func TestListEndUsers_SearchScopeFollowsThePolicy(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "scoped-search", carmen())
		search := func(access models.FieldAccess, q string) bool {
			page, err := db.ListEndUsers(ctx, models.UserPageRequest{Filter: models.UserFilter{Search: q, Scope: access.SearchScope()}})
			if err != nil {
				t.Fatal(err)
			}
			return slices.ContainsFunc(page.Users, func(u models.EndUser) bool { return u.ID == c.User.ID })
		}
		def := models.DefaultFieldPolicy()
		admin, auditor := def.For(models.RoleAdmin), def.For(models.RoleAuditor)
		hidden := def.With(models.RoleAuditor, models.PolicyEmails, models.FieldHidden).For(models.RoleAuditor)
		for _, tc := range []struct {
			q                        string
			admin, auditor, noEmails bool
		}{
			{"berza", true, false, false},
			{"Carmen", true, true, true},
			{"carmen berzatto", true, true, true},
			{"CARMEN", true, true, true},
			{"carmy@exam", true, false, false},
			{"bear@example.com", true, true, false},
			{"+1312555", true, false, false},
			{"+13125551212", true, true, true},
			{`carmy@example.com","bear`, false, false, false},
			{"%", false, false, false},
		} {
			for _, who := range []struct {
				name   string
				access models.FieldAccess
				want   bool
			}{{"admin", admin, tc.admin}, {"auditor", auditor, tc.auditor}, {"auditor without emails", hidden, tc.noEmails}} {
				if got := search(who.access, tc.q); got != who.want {
					t.Errorf("%s searching %q finds the user: %v, want %v", who.name, tc.q, got, who.want)
				}
			}
		}
	})
}
