package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// PersonalField is one kind of an end user's personal data that the field
// policy governs.
type PersonalField string

const (
	PolicyNames   PersonalField = "names"
	PolicyEmails  PersonalField = "emails"
	PolicyPhones  PersonalField = "phone_numbers"
	PolicyAddress PersonalField = "address"
	PolicySSN     PersonalField = RevealSSN
	PolicyDOB     PersonalField = RevealDateOfBirth
)

// PersonalFields lists the governed fields in the order pages show them.
var PersonalFields = []PersonalField{PolicyNames, PolicyEmails, PolicyPhones, PolicyAddress, PolicySSN, PolicyDOB}

// ParsePersonalField accepts a governed field's name.
func ParsePersonalField(s string) (PersonalField, bool) {
	for _, f := range PersonalFields {
		if string(f) == s {
			return f, true
		}
	}
	return "", false
}

// Label is the field's name as people read it.
func (f PersonalField) Label() string {
	switch f {
	case PolicyNames:
		return "Names"
	case PolicyEmails:
		return "Emails"
	case PolicyPhones:
		return "Phone numbers"
	case PolicyAddress:
		return "Address"
	case PolicySSN:
		return "SSN"
	case PolicyDOB:
		return "Date of birth"
	}
	return string(f)
}

// sealed fields are encrypted at rest (fieldcrypt.go) and were, before the
// policy, only ever revealed with a reason.
func (f PersonalField) sealed() bool { return f == PolicySSN || f == PolicyDOB }

// FieldState is what a role is shown of a field.
type FieldState string

const (
	// FieldVisible shows the value as stored.
	FieldVisible FieldState = "visible"
	// FieldReveal shows the masked value, and the clear one after a
	// reason is given and audited (user.pii_reveal).
	FieldReveal FieldState = "reveal"
	// FieldMasked shows the masked value only.
	FieldMasked FieldState = "masked"
	// FieldHidden shows nothing of the value, not even whether there is one.
	FieldHidden FieldState = "hidden"
)

// FieldStates lists the states, most open first.
var FieldStates = []FieldState{FieldVisible, FieldReveal, FieldMasked, FieldHidden}

// ParseFieldState accepts a state's name.
func ParseFieldState(s string) (FieldState, bool) {
	for _, st := range FieldStates {
		if string(st) == s {
			return st, true
		}
	}
	return "", false
}

// Label is the state as people read it.
func (s FieldState) Label() string {
	switch s {
	case FieldVisible:
		return "Visible"
	case FieldReveal:
		return "Reveal with a reason"
	case FieldMasked:
		return "Masked"
	case FieldHidden:
		return "Hidden"
	}
	return string(s)
}

// FieldPolicy says, for each role and personal field, what the role is
// shown. It is the one place that decides: every page, partial, search,
// export and audit view of an end user goes through a role's FieldAccess.
// The JSON API answers API keys, not members, and is not governed by it.
type FieldPolicy struct {
	cells map[Role]map[PersonalField]FieldState
}

// DefaultFieldPolicy is the policy until admins change it: admins and
// compliance reviewers see names, emails, phone numbers and the address,
// and reveal the SSN and date of birth with a reason; auditors see every
// field masked and never reveal.
func DefaultFieldPolicy() FieldPolicy {
	p := FieldPolicy{cells: map[Role]map[PersonalField]FieldState{}}
	for _, r := range Roles {
		p.cells[r] = map[PersonalField]FieldState{}
		for _, f := range PersonalFields {
			switch {
			case r == RoleAuditor:
				p.cells[r][f] = FieldMasked
			case f.sealed():
				p.cells[r][f] = FieldReveal
			default:
				p.cells[r][f] = FieldVisible
			}
		}
	}
	return p
}

// State is what role is shown of field. A role the policy does not know
// is shown nothing.
func (p FieldPolicy) State(r Role, f PersonalField) FieldState {
	if p.cells == nil {
		p = DefaultFieldPolicy()
	}
	if st, ok := p.cells[r][f]; ok {
		return st
	}
	return FieldHidden
}

// With is the policy with one cell changed.
func (p FieldPolicy) With(r Role, f PersonalField, s FieldState) FieldPolicy {
	out := FieldPolicy{cells: map[Role]map[PersonalField]FieldState{}}
	for _, role := range Roles {
		out.cells[role] = map[PersonalField]FieldState{}
		for _, field := range PersonalFields {
			out.cells[role][field] = p.State(role, field)
		}
	}
	out.cells[r][f] = s
	return out
}

// Equal reports whether both policies give every cell the same state.
func (p FieldPolicy) Equal(o FieldPolicy) bool {
	for _, r := range Roles {
		for _, f := range PersonalFields {
			if p.State(r, f) != o.State(r, f) {
				return false
			}
		}
	}
	return true
}

// PolicyCell names one cell of the policy, as the settings form and its
// field messages do: "auditor.emails".
func PolicyCell(r Role, f PersonalField) string { return string(r) + "." + string(f) }

// Allowed reports whether the policy may give role this state for field,
// and if not, why (the message the settings grid shows beside the cell).
//   - Admins create and edit identities in clear: their names, emails,
//     phone numbers and address stay visible, so an edit form never saves
//     over a value its author could not see.
//   - Auditors never reveal, and never see a sealed value (SSN, date of
//     birth) in clear: the read-only role proves what happened without
//     reading what is sealed.
func Allowed(r Role, f PersonalField, s FieldState) (ok bool, why string) {
	if _, known := ParseFieldState(string(s)); !known {
		return false, "Choose visible, reveal with a reason, masked or hidden."
	}
	switch {
	case r == RoleAdmin && !f.sealed() && s != FieldVisible:
		return false, "Admins edit this field in the user form, so it stays visible to them."
	case r == RoleAuditor && s == FieldReveal:
		return false, "Auditors never reveal a value: choose visible, masked or hidden."
	case r == RoleAuditor && f.sealed() && s == FieldVisible:
		return false, "Auditors never see a sealed value in clear: choose masked or hidden."
	}
	return true, ""
}

// Validate checks every cell (Allowed) and that someone can still read
// each sealed value: an admin or a compliance reviewer keeps visible or
// reveal for the SSN and the date of birth, or no one could ever read
// them in the portal again. Messages are keyed by PolicyCell.
func (p FieldPolicy) Validate() error {
	fields := FieldErrors{}
	for _, r := range Roles {
		for _, f := range PersonalFields {
			if ok, why := Allowed(r, f, p.State(r, f)); !ok {
				fields.Add(PolicyCell(r, f), why)
			}
		}
	}
	for _, f := range PersonalFields {
		if !f.sealed() {
			continue
		}
		readable := false
		for _, r := range []Role{RoleAdmin, RoleCompliance} {
			st := p.State(r, f)
			readable = readable || st == FieldVisible || st == FieldReveal
		}
		if !readable {
			fields.Add(PolicyCell(RoleAdmin, f), "Admins or compliance reviewers must keep visible or reveal with a reason for the "+f.Label()+", or no one could read it.")
		}
	}
	if err := fields.Err(); err != nil {
		var merr *Error
		if errors.As(err, &merr) {
			merr.Message = "The field policy was not saved: correct the highlighted cells."
		}
		return err
	}
	return nil
}

// For is the row of the policy that applies to one role.
func (p FieldPolicy) For(r Role) FieldAccess {
	a := FieldAccess{Role: r, states: map[PersonalField]FieldState{}}
	for _, f := range PersonalFields {
		a.states[f] = p.State(r, f)
	}
	return a
}

// auditFields is the policy as a settings.update diff sees it: one flat
// key per cell, so no key is a personal field's name the audit log would
// redact.
func (p FieldPolicy) auditFields() map[string]any {
	out := map[string]any{}
	for _, r := range Roles {
		for _, f := range PersonalFields {
			out["field_policy."+PolicyCell(r, f)] = string(p.State(r, f))
		}
	}
	return out
}

// settingFieldPolicy is the settings row that holds the policy, as JSON:
// {"auditor": {"emails": "masked", ...}, ...}. No row is the default
// policy; a cell the row lacks takes its default.
const settingFieldPolicy = "field_policy"

func (p FieldPolicy) encode() (string, error) {
	out := map[string]map[string]string{}
	for _, r := range Roles {
		out[string(r)] = map[string]string{}
		for _, f := range PersonalFields {
			out[string(r)][string(f)] = string(p.State(r, f))
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func decodeFieldPolicy(s string) (FieldPolicy, error) {
	var raw map[string]map[string]string
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return FieldPolicy{}, fmt.Errorf("read field policy: %w", err)
	}
	p := DefaultFieldPolicy()
	for _, r := range Roles {
		for _, f := range PersonalFields {
			if st, ok := ParseFieldState(raw[string(r)][string(f)]); ok {
				p.cells[r][f] = st
			}
		}
	}
	return p, nil
}

// FieldPolicy reads the policy. It is read on every request that shows an
// end user (one row by primary key), so a change holds on the next request
// in every process.
func (db *DB) FieldPolicy(ctx context.Context) (FieldPolicy, error) {
	return readFieldPolicy(db.gorm.WithContext(ctx))
}

func readFieldPolicy(q *gorm.DB) (FieldPolicy, error) {
	var rows []setting
	if err := q.Where("name = ?", settingFieldPolicy).Limit(1).Find(&rows).Error; err != nil {
		return FieldPolicy{}, fmt.Errorf("read field policy: %w", err)
	}
	if len(rows) == 0 {
		return DefaultFieldPolicy(), nil
	}
	return decodeFieldPolicy(rows[0].Value)
}

// storedPolicy is a stored field policy and its decoding.
type storedPolicy struct {
	value  string
	policy FieldPolicy
}

// decodedFieldPolicy is the policy stored as value (empty when none is):
// every request reads the value, and decodes it only when it differs from
// the one decoded last. A FieldPolicy is never changed once made, so one
// is shared by every request.
func (db *DB) decodedFieldPolicy(value string) (FieldPolicy, error) {
	if last := db.lastPolicy.Load(); last != nil && last.value == value {
		return last.policy, nil
	}
	p, err := DefaultFieldPolicy(), error(nil)
	if value != "" {
		if p, err = decodeFieldPolicy(value); err != nil {
			return FieldPolicy{}, err
		}
	}
	db.lastPolicy.Store(&storedPolicy{value: value, policy: p})
	return p, nil
}

// UpdateFieldPolicy validates and stores the policy, audited as
// settings.update with every changed cell before and after. A policy
// already as asked is left alone, unaudited.
func (db *DB) UpdateFieldPolicy(ctx context.Context, o Origin, next FieldPolicy) (changed bool, err error) {
	if err := next.Validate(); err != nil {
		return false, err
	}
	value, err := next.encode()
	if err != nil {
		return false, fmt.Errorf("encode field policy: %w", err)
	}
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		before, err := readFieldPolicy(lockForUpdate(tx))
		if err != nil {
			return Change{}, err
		}
		if before.Equal(next) {
			return Change{}, errNothingToChange
		}
		row := setting{Name: settingFieldPolicy, Value: value, UpdatedAt: db.now()}
		err = tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}},
			DoUpdates: clause.AssignmentColumns([]string{"value", "updated_at"})}).Create(&row).Error
		if err != nil {
			return Change{}, fmt.Errorf("store field policy: %w", err)
		}
		return Change{Action: "settings.update", Target: Target{Type: "settings", ID: settingFieldPolicy},
			Before: before.auditFields(), After: next.auditFields()}, nil
	})
	if err == errNothingToChange {
		return false, nil
	}
	return err == nil, err
}

// FieldAccess is what one role is shown of each personal field. Pages,
// partials, exports and audit views build what they show of an end user
// through it only.
type FieldAccess struct {
	Role   Role
	states map[PersonalField]FieldState
}

// State is what the role is shown of field; hidden when unknown.
func (a FieldAccess) State(f PersonalField) FieldState {
	if st, ok := a.states[f]; ok {
		return st
	}
	return FieldHidden
}

// Shown is one value as a role may see it.
type Shown struct {
	State FieldState
	Value string // clear when visible, masked when masked or revealable, "" when hidden
}

// Hidden reports whether nothing of the value may be shown.
func (s Shown) Hidden() bool { return s.State == FieldHidden }

// Revealable reports whether the clear value can be asked for, with a
// reason.
func (s Shown) Revealable() bool { return s.State == FieldReveal && s.Value != "" }

// Show is value, a field of kind f, as the role may see it.
func (a FieldAccess) Show(f PersonalField, value string) Shown {
	return showAs(a.State(f), f, value)
}

func showAs(st FieldState, f PersonalField, value string) Shown {
	switch st {
	case FieldVisible:
		return Shown{State: st, Value: value}
	case FieldMasked, FieldReveal:
		return Shown{State: st, Value: mask(f, value)}
	}
	return Shown{State: FieldHidden}
}

// ShownList is a list field (emails, phone numbers) as a role may see it.
type ShownList struct {
	State  FieldState
	Values []string // each value shown as Show would; nil when hidden
}

// Hidden reports whether nothing of the list may be shown.
func (s ShownList) Hidden() bool { return s.State == FieldHidden }

// Revealable reports whether the clear values can be asked for.
func (s ShownList) Revealable() bool { return s.State == FieldReveal && len(s.Values) > 0 }

// ShowList is a list field as the role may see it.
func (a FieldAccess) ShowList(f PersonalField, values []string) ShownList {
	st := a.State(f)
	if st == FieldHidden {
		return ShownList{State: st}
	}
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = showAs(st, f, v).Value
	}
	return ShownList{State: st, Values: out}
}

// ShownAddress is the primary address as a role may see it.
type ShownAddress struct {
	State FieldState
	Address
}

// Hidden reports whether nothing of the address may be shown.
func (s ShownAddress) Hidden() bool { return s.State == FieldHidden }

// Revealable reports whether the clear address can be asked for.
func (s ShownAddress) Revealable() bool { return s.State == FieldReveal && s.Address != Address{} }

// ShowAddress is the address as the role may see it: masked, it keeps the
// city, state and country and hides the street and ZIP code.
func (a FieldAccess) ShowAddress(addr Address) ShownAddress {
	st := a.State(PolicyAddress)
	switch st {
	case FieldVisible:
		return ShownAddress{State: st, Address: addr}
	case FieldMasked, FieldReveal:
		return ShownAddress{State: st, Address: Address{Street: maskWhole(addr.Street), City: addr.City,
			Region: addr.Region, PostalCode: maskWhole(addr.PostalCode), Country: addr.Country}}
	}
	return ShownAddress{State: FieldHidden}
}

// ShownIdentity is a consumer-report identity as a role may see it. The
// clear values of fields the role may not see never reach it.
type ShownIdentity struct {
	FirstName, LastName Shown
	Emails              ShownList
	PhoneNumbers        ShownList
	Address             ShownAddress
	SSN                 Shown
	SSNKind             string // "full" or "last4"; "" when the SSN is hidden
	DateOfBirth         Shown
}

// AccessFields are the personal fields this identity shows, as an access
// entry records them: in clear when visible, masked when masked or
// revealable; a hidden or empty field is not shown at all.
func (s *ShownIdentity) AccessFields() AccessFields {
	var f AccessFields
	if s == nil {
		return f
	}
	add := func(name string, st FieldState, has bool) {
		switch {
		case !has || st == FieldHidden:
		case st == FieldVisible:
			f.Clear = append(f.Clear, name)
		default:
			f.Masked = append(f.Masked, name)
		}
	}
	add(FieldFirstName, s.FirstName.State, s.FirstName.Value != "")
	add(FieldLastName, s.LastName.State, s.LastName.Value != "")
	add(FieldPhoneNumbers, s.PhoneNumbers.State, len(s.PhoneNumbers.Values) > 0)
	add(FieldEmails, s.Emails.State, len(s.Emails.Values) > 0)
	add("primary_address", s.Address.State, s.Address.Address != Address{})
	ssn := FieldSSNFull
	if s.SSNKind == "last4" {
		ssn = FieldSSNLast4
	}
	add(ssn, s.SSN.State, s.SSN.Value != "")
	add(FieldDateOfBirth, s.DateOfBirth.State, s.DateOfBirth.Value != "")
	return f
}

// Name is the first and last name as shown, "" when hidden.
func (s *ShownIdentity) Name() string {
	return strings.TrimSpace(s.FirstName.Value + " " + s.LastName.Value)
}

// Identity is an identity as the role may see it; nil for none.
func (a FieldAccess) Identity(id *Identity) *ShownIdentity {
	if id == nil {
		return nil
	}
	out := &ShownIdentity{
		FirstName: a.Show(PolicyNames, id.FirstName), LastName: a.Show(PolicyNames, id.LastName),
		Emails: a.ShowList(PolicyEmails, id.Emails), PhoneNumbers: a.ShowList(PolicyPhones, id.PhoneNumbers),
		Address: a.ShowAddress(id.Address),
		SSN:     a.Show(PolicySSN, id.SSNFull+id.SSNLast4), DateOfBirth: a.Show(PolicyDOB, id.DateOfBirth),
	}
	if !out.SSN.Hidden() {
		out.SSNKind = "full"
		if id.SSNLast4 != "" {
			out.SSNKind = "last4"
		}
	}
	return out
}

// Name is a listed user's name as the role may see it.
func (a FieldAccess) Name(u *EndUser) Shown {
	st := a.State(PolicyNames)
	if st == FieldHidden {
		return Shown{State: st}
	}
	return Shown{State: st, Value: strings.TrimSpace(showAs(st, PolicyNames, u.FirstName).Value + " " +
		showAs(st, PolicyNames, u.LastName).Value)}
}

// FirstEmail is a listed user's first email as the role may see it.
func (a FieldAccess) FirstEmail(u *EndUser) Shown {
	if len(u.Emails) == 0 {
		return Shown{State: a.State(PolicyEmails)}
	}
	return a.Show(PolicyEmails, u.Emails[0])
}

// Diff is an audit entry's diff as the role may see it: the keys of
// fields hidden from the role are dropped, so neither the value (already
// redacted when stored) nor the fact that it changed shows.
func (a FieldAccess) Diff(d AuditDiff) AuditDiff {
	keep := func(m map[string]any) map[string]any {
		if m == nil {
			return nil
		}
		out := make(map[string]any, len(m))
		for k, v := range m {
			if f, ok := diffKeyField[k]; ok && a.State(f) == FieldHidden {
				continue
			}
			out[k] = v
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return AuditDiff{Before: keep(d.Before), After: keep(d.After)}
}

// ChangedFields lists the fields of an entry's diff the role may know
// changed.
func (a FieldAccess) ChangedFields(e *AuditEntry) []string {
	return a.Diff(e.DecodeDiff()).ChangedFields()
}

// diffKeyField is the governed field each identity key of an audit diff
// belongs to.
var diffKeyField = map[string]PersonalField{
	"first_name": PolicyNames, "last_name": PolicyNames, "name": PolicyNames,
	"emails": PolicyEmails, "phone_numbers": PolicyPhones,
	"primary_address": PolicyAddress, "street": PolicyAddress, "city": PolicyAddress, "region": PolicyAddress,
	"postal_code": PolicyAddress, "country": PolicyAddress,
	"ssn": PolicySSN, "ssn_full": PolicySSN, "ssn_last_4": PolicySSN, "date_of_birth": PolicyDOB,
}

// SearchScope is how a users search looks inside the personal fields of
// the role searching: a visible field by substring, a masked or
// revealable one by its exact value only (so a search cannot spell out a
// value letter by letter), a hidden one not at all. The zero value looks
// inside every field by substring.
// It is comparable, as the filter that holds it is.
type SearchScope struct {
	set    bool
	states [3]FieldState // by searchedFields
}

// SearchScope is the role's search scope.
func (a FieldAccess) SearchScope() SearchScope {
	s := SearchScope{set: true}
	for i, f := range searchedFields {
		s.states[i] = a.State(f)
	}
	return s
}

// searchedFields are the personal fields a users search looks in.
var searchedFields = [3]PersonalField{PolicyNames, PolicyEmails, PolicyPhones}

func (s SearchScope) state(f PersonalField) FieldState {
	if !s.set {
		return FieldVisible
	}
	for i, sf := range searchedFields {
		if sf == f && s.states[i] != "" {
			return s.states[i]
		}
	}
	return FieldHidden
}

// everyFieldVisible reports whether the search may look inside every
// searched field by substring, as the plain search does.
func (s SearchScope) everyFieldVisible() bool {
	for _, f := range searchedFields {
		if s.state(f) != FieldVisible {
			return false
		}
	}
	return true
}

// Masks. The bullet stands for hidden characters, never one per
// character: a mask says nothing of the length.
const bullets = "•••"

func mask(f PersonalField, v string) string {
	if v == "" {
		return ""
	}
	switch f {
	case PolicyNames:
		return MaskName(v)
	case PolicyEmails:
		return MaskEmail(v)
	case PolicyPhones:
		return MaskPhone(v)
	case PolicySSN:
		return MaskSSN(v)
	case PolicyDOB:
		return MaskDate(v)
	}
	return maskWhole(v)
}

func maskWhole(v string) string {
	if v == "" {
		return ""
	}
	return bullets
}

// MaskName keeps each word's initial: "Mary Ann" → "M••• A•••".
func MaskName(v string) string {
	words := strings.Fields(v)
	for i, w := range words {
		r, _ := utf8.DecodeRuneInString(w)
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = '•'
		}
		words[i] = string(r) + bullets
	}
	return strings.Join(words, " ")
}

// MaskEmail keeps the first character and the domain: "j•••@gmail.com".
func MaskEmail(v string) string {
	at := strings.LastIndexByte(v, '@')
	if at <= 0 {
		return MaskName(v)
	}
	r, _ := utf8.DecodeRuneInString(v)
	if r == utf8.RuneError {
		r = '•'
	}
	return string(r) + bullets + v[at:]
}

// MaskPhone keeps the country calling code and the last 4 digits of an
// E.164 number: "+13125554821" → "+1 ••• ••• 4821".
func MaskPhone(v string) string {
	if len(v) < 8 || v[0] != '+' || !isDigits(v[1:]) {
		if len(v) <= 4 {
			return bullets
		}
		return bullets + " " + v[len(v)-4:]
	}
	cc := callingCode(v[1:])
	return "+" + cc + " ••• ••• " + v[len(v)-4:]
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// callingCode is the country calling code an international number starts
// with (ITU-T E.164): 1 and 7 are one digit, the two-digit codes are
// listed, every other code has three.
func callingCode(digits string) string {
	if digits[0] == '1' || digits[0] == '7' {
		return digits[:1]
	}
	if twoDigitCodes[digits[:2]] {
		return digits[:2]
	}
	return digits[:3]
}

var twoDigitCodes = map[string]bool{}

func init() {
	for _, cc := range strings.Fields(`20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58
		60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98`) {
		twoDigitCodes[cc] = true
	}
}
