package models

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// The personal-data access log. Opening a user's page, a search by an
// email or a phone number, an export and a reveal are audit entries like
// any change, appended through Apply (and so through group commit on
// PostgreSQL). Each names the end users it showed (Change.Subjects),
// which are indexed in pii_access by the entry's seq in the same
// transaction, so "who looked at this person's data" is one index range
// read. The entry in the chain is the record; the index only finds it.

// Access actions: a user's page shown, a search by personal data.
// Exports stay user.export and reveals user.pii_reveal, indexed alike.
const (
	ActionPIIView   = "pii.view"
	ActionPIISearch = "pii.search"
)

// AccessActions are the actions an access entry may have.
var AccessActions = []string{ActionPIIView, ActionPIISearch, ActionUserExport, ActionPIIReveal}

// AccessWindow is how far back a user's page lists who accessed their
// data; the entries themselves are kept as long as the audit log.
const AccessWindow = 90 * 24 * time.Hour

// maxSubjectsPerInsert bounds one INSERT of index rows (two parameters
// each, well under PostgreSQL's 65,535).
const maxSubjectsPerInsert = 1000

// AccessFields are the personal fields a surface showed: in clear, and
// masked. The view model of each surface says which (one function each),
// so that a field policy can later decide them in one place.
type AccessFields struct {
	Clear  []string
	Masked []string
}

// value is the fields as an entry's diff records them.
func (f AccessFields) value() map[string]any {
	out := map[string]any{"fields": nonNilStrings(f.Clear)}
	if len(f.Masked) > 0 {
		out["masked"] = f.Masked
	}
	return out
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// DataAccess is one access to be recorded: who is the Origin's actor.
type DataAccess struct {
	Action string // ActionPIIView or ActionPIISearch
	// Users are the end users whose data was shown; none: nothing is
	// recorded, as nothing personal was shown.
	Users  []int64
	Fields AccessFields
	// Searched is the kind of term a search was by (SearchEmail,
	// SearchPhone); the term itself is never recorded.
	Searched string
}

// Kinds of personal search term.
const (
	SearchEmail = "email"
	SearchPhone = "phone"
)

// PersonalSearch says whether a users list search term is personal data
// and of which kind: an email when it holds an @, a phone number when it
// has at least 6 digits and nothing else but the signs phone numbers are
// written with. Names and ids are not recorded searches.
func PersonalSearch(term string) string {
	term = strings.TrimSpace(term)
	if strings.Contains(term, "@") {
		return SearchEmail
	}
	digits := 0
	for _, r := range term {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+-(). ", r):
		default:
			return ""
		}
	}
	if digits >= 6 {
		return SearchPhone
	}
	return ""
}

// RecordDataAccess appends the access entry: the member, the users shown
// (at most a page, or one), the fields, and for a search the kind of term.
// It returns once the entry is committed: a page shows nothing that is
// not on record.
func (db *DB) RecordDataAccess(ctx context.Context, o Origin, a DataAccess) error {
	users := uniqueIDs(a.Users)
	if len(users) == 0 {
		return nil
	}
	after := a.Fields.value()
	// The target names no user: the index finds an access by its users,
	// and a user's history and target lookups, read on every page, stay
	// with the changes however often the page is opened.
	target := Target{Type: "end_user"}
	switch a.Action {
	case ActionPIIView:
		if len(users) != 1 {
			return fmt.Errorf("record data access: a view is of one user, not %d", len(users))
		}
		after["user"] = users[0]
	case ActionPIISearch:
		if a.Searched != SearchEmail && a.Searched != SearchPhone {
			return fmt.Errorf("record data access: unknown search kind %q", a.Searched)
		}
		after["searched"], after["users"] = a.Searched, users
	default:
		return fmt.Errorf("record data access: unknown action %q", a.Action)
	}
	return db.Apply(ctx, o, func(*gorm.DB) (Change, error) {
		return Change{Action: a.Action, Target: target, After: after, Subjects: users}, nil
	})
}

func uniqueIDs(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

// piiAccess is one index row: an access entry about an end user.
type piiAccess struct {
	EndUserID int64
	Seq       int64
}

func (piiAccess) TableName() string { return "pii_access" }

// storeSubjects indexes the subjects of entries just given their seqs, in
// the transaction that appends them.
func storeSubjects(tx *gorm.DB, entries []*AuditEntry) error {
	var rows []piiAccess
	for _, e := range entries {
		for _, id := range uniqueIDs(e.subjects) {
			rows = append(rows, piiAccess{EndUserID: id, Seq: e.Seq})
		}
	}
	return insertSubjects(tx, rows)
}

func insertSubjects(tx *gorm.DB, rows []piiAccess) error {
	for len(rows) > 0 {
		n := min(len(rows), maxSubjectsPerInsert)
		if err := tx.Create(rows[:n]).Error; err != nil {
			return fmt.Errorf("audit: index the users an entry is about: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}

// DataAccessFilter is the audit filter of the access entries about one
// end user within AccessWindow before now: what their page lists, and
// what its link opens in the audit log.
func DataAccessFilter(userID int64, now time.Time) AuditFilter {
	return AuditFilter{Accessed: fmt.Sprint(userID), From: now.Add(-AccessWindow).Truncate(time.Minute)}
}

// DataAccessPage is one page of who accessed an end user's data within
// AccessWindow before now, newest first, keyset paged like the log.
func (db *DB) DataAccessPage(ctx context.Context, userID int64, now time.Time, cursor string, limit int) (*AuditPage, error) {
	return db.ListAudit(ctx, AuditPageRequest{Filter: DataAccessFilter(userID, now), Cursor: cursor, Limit: limit})
}

// AccessedFields are the fields an access entry says were shown, in
// clear and masked; a reveal's field is in clear.
func (e *AuditEntry) AccessedFields() AccessFields {
	d := e.DecodeDiff().After
	list := func(v any) []string {
		items, _ := v.([]any)
		out := make([]string, 0, len(items))
		for _, it := range items {
			if s, ok := it.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	f := AccessFields{Clear: list(d["fields"]), Masked: list(d["masked"])}
	if field, ok := d["field"].(string); ok && e.Action == ActionPIIReveal {
		f.Clear = append(f.Clear, field)
	}
	return f
}
