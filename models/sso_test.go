package models_test

import (
	"errors"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

func TestParseSSOForm_ReadsTheMappingAndRefusesWhatItCannot(t *testing.T) {
	s, err := models.ParseSSOForm(models.SSOForm{
		RoleMap: " staff-admins = admin \n\n/ledgerdesk/risk=Compliance\ncn=auditors,ou=groups = auditor\n",
		Domains: "Acme.example, @corp.acme.example",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []models.GroupRole{{"staff-admins", models.RoleAdmin}, {"/ledgerdesk/risk", models.RoleCompliance}, {"cn=auditors,ou=groups", models.RoleAuditor}}
	if len(s.RoleMap) != 3 || s.RoleMap[0] != want[0] || s.RoleMap[1] != want[1] || s.RoleMap[2] != want[2] {
		t.Fatalf("role map %v, want %v", s.RoleMap, want)
	}
	if strings.Join(s.AllowedDomains, " ") != "acme.example corp.acme.example" {
		t.Fatalf("domains %v", s.AllowedDomains)
	}
	for name, in := range map[string]models.SSOForm{
		"no equals sign":      {RoleMap: "staff-admins admin"},
		"unknown role":        {RoleMap: "staff = owner"},
		"no group":            {RoleMap: " = admin"},
		"a group twice":       {RoleMap: "a = admin\na = auditor"},
		"a NUL in a group":    {RoleMap: "a\x00b = admin"},
		"invalid UTF-8":       {RoleMap: "a\xff = admin"},
		"a megabyte":          {RoleMap: strings.Repeat("a", 1<<20) + " = admin"},
		"a group too long":    {RoleMap: strings.Repeat("g", models.MaxSSOGroupLength+1) + " = admin"},
		"not a domain":        {Domains: "acme"},
		"a domain with a NUL": {Domains: "acme\x00.example"},
		"a domain twice":      {Domains: "acme.example acme.example"},
		"a break-glass NUL":   {BreakGlass: "abc\x00"},
	} {
		if _, err := models.ParseSSOForm(in); models.ErrorKind(err) != models.KindInvalid {
			t.Errorf("%s: %v, want a field error", name, err)
		}
	}
}

func TestSSOSettings_TheMostPowerfulMappedRoleWins(t *testing.T) {
	s := models.SSOSettings{RoleMap: []models.GroupRole{{"a", models.RoleAuditor}, {"b", models.RoleAdmin}, {"c", models.RoleCompliance}}}
	for _, tc := range []struct {
		groups []string
		want   models.Role
		ok     bool
	}{
		{[]string{"a", "c"}, models.RoleCompliance, true},
		{[]string{"c", "b", "a"}, models.RoleAdmin, true},
		{[]string{"A"}, "", false}, // group names are compared exactly
		{nil, "", false},
	} {
		if got, ok := s.RoleFor(tc.groups); got != tc.want || ok != tc.ok {
			t.Errorf("RoleFor(%v) = %s %v, want %s %v", tc.groups, got, ok, tc.want, tc.ok)
		}
	}
}

func TestUpdateSSOSettings_CannotLockEveryoneOutAndIsAudited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		admin := activeMember(t, db, "admin@example.com")
		noPassword := insertMember(t, db, "sso-only@example.com", models.MemberActive, "")
		mapped := []models.GroupRole{{"admins", models.RoleAdmin}}
		for name, tc := range map[string]struct {
			s          models.SSOSettings
			configured bool
			field      string
		}{
			"no provider":                            {models.SSOSettings{Required: true, BreakGlassMemberID: admin.ID, RoleMap: mapped}, false, "sso_required"},
			"no break-glass admin":                   {models.SSOSettings{Required: true, RoleMap: mapped}, true, "break_glass"},
			"a break-glass admin without a password": {models.SSOSettings{Required: true, BreakGlassMemberID: noPassword.ID, RoleMap: mapped}, true, "break_glass"},
			"an unknown break-glass admin":           {models.SSOSettings{BreakGlassMemberID: models.NewMemberID()}, true, "break_glass"},
			"no group mapped to admin":               {models.SSOSettings{Required: true, BreakGlassMemberID: admin.ID, RoleMap: []models.GroupRole{{"x", models.RoleAuditor}}}, true, "role_map"},
		} {
			_, err := db.UpdateSSOSettings(ctx, systemOrigin, tc.s, tc.configured)
			var merr *models.Error
			if !errors.As(err, &merr) || merr.Fields[tc.field] == "" {
				t.Errorf("%s: %v, want an error on %s", name, err, tc.field)
			}
		}
		if s, _ := db.Settings(ctx); s.SSO.Required || len(entriesWithAction(t, db, "settings.sso_update")) != 0 {
			t.Fatal("a refused update changed the settings")
		}
		ok := models.SSOSettings{Required: true, BreakGlassMemberID: admin.ID, RoleMap: mapped, AllowedDomains: []string{"example.com"}}
		if changed, err := db.UpdateSSOSettings(ctx, systemOrigin, ok, true); err != nil || !changed {
			t.Fatalf("update: %v %v", changed, err)
		}
		if changed, err := db.UpdateSSOSettings(ctx, systemOrigin, ok, true); err != nil || changed {
			t.Fatalf("the same settings again: changed %v, %v", changed, err)
		}
		if n := len(entriesWithAction(t, db, "settings.sso_update")); n != 1 {
			t.Fatalf("%d settings.sso_update entries, want 1", n)
		}
		s, err := db.Settings(ctx)
		if err != nil || !s.SSO.Required || s.SSO.BreakGlassMemberID != admin.ID || s.SSO.RoleMapText() != "admins = admin\n" || s.SSO.DomainsText() != "example.com" {
			t.Fatalf("stored %+v, %v", s.SSO, err)
		}
		// The MFA setting saved beside it leaves it alone.
		if _, err := db.UpdateSettings(ctx, systemOrigin, models.Settings{MFARequiredForAdmins: true}); err != nil {
			t.Fatal(err)
		}
		if s, _ := db.Settings(ctx); !s.SSO.Required || !s.MFARequiredForAdmins {
			t.Fatalf("after the MFA setting: %+v", s)
		}
	})
}

func TestClaimOIDCState_OnceFromTheBrowserThatBeganIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		state, browser := models.RandomToken(32), models.RandomToken(32)
		if err := db.BeginOIDCSignIn(ctx, state, browser, "/users"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ClaimOIDCState(ctx, state, models.RandomToken(32)); !errors.Is(err, models.ErrOIDCState) {
			t.Fatalf("another browser: %v", err)
		}
		// That attempt spent it.
		if _, err := db.ClaimOIDCState(ctx, state, browser); !errors.Is(err, models.ErrOIDCState) {
			t.Fatalf("after another browser tried it: %v", err)
		}
		state = models.RandomToken(32)
		if err := db.BeginOIDCSignIn(ctx, state, browser, "/users"); err != nil {
			t.Fatal(err)
		}
		if next, err := db.ClaimOIDCState(ctx, state, browser); err != nil || next != "/users" {
			t.Fatalf("claim: %q %v", next, err)
		}
		if _, err := db.ClaimOIDCState(ctx, state, browser); !errors.Is(err, models.ErrOIDCState) {
			t.Fatalf("a second claim: %v", err)
		}
		for _, bad := range []string{"", "a\x00b", strings.Repeat("s", 1<<20)} {
			if _, err := db.ClaimOIDCState(ctx, bad, browser); !errors.Is(err, models.ErrOIDCState) {
				t.Fatalf("state %.20q: %v", bad, err)
			}
		}
		if n := countRows(t, db, "oidc_states"); n != 0 {
			t.Fatalf("%d states left", n)
		}
	})
}

func TestSignInWithOIDC_AnEmailLinkedToAnotherSubjectIsRefused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := activeMember(t, db, "pat@example.com")
		if _, err := db.UpdateSSOSettings(ctx, systemOrigin, models.SSOSettings{RoleMap: []models.GroupRole{{"staff", models.RoleAuditor}, {"boss", models.RoleAdmin}}}, true); err != nil {
			t.Fatal(err)
		}
		id := models.OIDCIdentity{Issuer: "https://idp.example.com", Subject: "pat-1", Email: "PAT@example.com", EmailVerified: true, Groups: []string{"boss"}}
		if _, err := db.SignInWithOIDC(ctx, anonymousFrom("192.0.2.9"), id, newSessionRow()); err != nil {
			t.Fatal(err)
		}
		// The provider gives the address to someone else.
		id.Subject = "someone-else"
		_, err := db.SignInWithOIDC(ctx, anonymousFrom("192.0.2.9"), id, newSessionRow())
		var refused *models.SSORefused
		if !errors.As(err, &refused) || refused.Reason != "subject_mismatch" {
			t.Fatalf("%v, want subject_mismatch", err)
		}
		// A subject that breaks the text rules names nobody.
		id.Subject = "bad\x00subject"
		if _, err := db.SignInWithOIDC(ctx, anonymousFrom("192.0.2.9"), id, newSessionRow()); !errors.As(err, &refused) || refused.Reason != "identity_invalid" {
			t.Fatalf("%v, want identity_invalid", err)
		}
		if n := countRows(t, db, "sessions"); n != 1 {
			t.Fatalf("%d sessions, want the first sign-in's", n)
		}
		_ = m
	})
}

// While SSO is required, the break-glass admin stays an active admin: the
// one password that works is not taken away by a demotion or a
// deactivation. Once SSO is not required, both go through.
func TestBreakGlassAdmin_CannotBeDemotedOrDeactivatedWhileSSOIsRequired(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		glass := activeMember(t, db, "glass@example.com")
		other := activeMember(t, db, "other-admin@example.com")
		third := activeMember(t, db, "third-admin@example.com")
		for _, m := range []*models.TeamMember{glass, other, third} {
			if m.Role != models.RoleAdmin {
				t.Fatalf("%s is %s, want an admin", m.EmailAddress, m.Role)
			}
		}
		required := models.SSOSettings{Required: true, BreakGlassMemberID: glass.ID, RoleMap: []models.GroupRole{{"admins", models.RoleAdmin}}}
		if _, err := db.UpdateSSOSettings(ctx, systemOrigin, required, true); err != nil {
			t.Fatal(err)
		}
		_, err := db.ChangeMemberRole(ctx, systemOrigin, glass.ID, models.RoleAuditor)
		if models.ErrorKind(err) != models.KindConflict || !strings.Contains(err.Error(), "break-glass") {
			t.Errorf("demoting the break-glass admin: %v, want a conflict naming the break-glass role", err)
		}
		_, err = db.DeactivateMember(ctx, systemOrigin, glass.ID)
		if models.ErrorKind(err) != models.KindConflict || !strings.Contains(err.Error(), "break-glass") {
			t.Errorf("deactivating the break-glass admin: %v, want a conflict naming the break-glass role", err)
		}
		if n := len(entriesWithAction(t, db, "team.role_change")) + len(entriesWithAction(t, db, "team.deactivate")); n != 0 {
			t.Fatalf("%d team changes audited, want none", n)
		}
		// Another admin is not held.
		if _, err := db.ChangeMemberRole(ctx, systemOrigin, other.ID, models.RoleCompliance); err != nil {
			t.Errorf("demoting another admin: %v", err)
		}
		required.Required = false
		if _, err := db.UpdateSSOSettings(ctx, systemOrigin, required, true); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ChangeMemberRole(ctx, systemOrigin, glass.ID, models.RoleAuditor); err != nil {
			t.Errorf("demoting the former break-glass admin once SSO is not required: %v", err)
		}
	})
}
