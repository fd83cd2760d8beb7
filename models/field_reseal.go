package models

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"gorm.io/gorm"
)

// Resealing moves every sealed value to the current field key, so that an
// old key can be retired. It changes no plaintext.
//
// It walks each group of sealed columns in primary-key order, a batch of
// rows at a time. A batch is read without locks, opened and sealed again
// outside any transaction, then written in one transaction by conditional
// UPDATEs: a row is changed only if its key id, its sealed values (and its
// version, where it has one) are still those that were read, so an edit
// made meanwhile is never overwritten. Such a row is read again under a
// row lock in the same transaction and resealed from what it now holds
// (counted as changed during the run). The version column is left as it
// is: a reseal is not an edit, and a form opened before it still saves.
//
// Audit: the run appends a system.keys_reseal_start entry (what is to be
// resealed, per field and key) before its first batch, and one
// system.keys_reseal entry with the totals, per table and field and per
// old key id, at its end. The batches before the last commit on their
// own; the last one commits in the same DB.Apply as the totals, so a run
// that finishes, is stopped or fails leaves an entry that covers every
// value it changed. Only a run killed outright (SIGKILL, a crash) ends with
// its start entry alone; FieldKeyStatus then shows where it stopped. A
// re-run picks up what is still under an old key: the key id stored beside
// each value is the only state a run needs.

// Audit actions of a reseal.
const (
	ActionKeysResealStart = "system.keys_reseal_start"
	ActionKeysReseal      = "system.keys_reseal"
)

// DefaultResealBatch is how many rows a reseal writes per transaction.
const DefaultResealBatch = 500

// ResealOptions tunes ResealFields.
type ResealOptions struct {
	// BatchSize is the rows per transaction; 0 means DefaultResealBatch.
	BatchSize int
	// Progress, if set, is called before the first batch and after each
	// one, from the goroutine running the reseal.
	Progress func(ResealProgress)

	// beforeWrite, if set, runs between a batch's read and its write:
	// tests make their concurrent edits there.
	beforeWrite func()
}

// ResealProgress is how far a reseal got: values handled (resealed,
// found unreadable or found changed) out of those under another key when
// it started.
type ResealProgress struct {
	Done, Total int64
	Batches     int
}

// ResealCount is what a reseal did with the values of one field that one
// old key sealed.
type ResealCount struct {
	Table, Field, KeyID string
	// Resealed values are now sealed with the current key.
	Resealed int64
	// Unreadable values did not open: their key is not configured, or the
	// value is damaged. They stay as they are.
	Unreadable int64
	// Changed values were changed by someone else between the batch's read
	// and its write; each was then handled again from what the row held.
	Changed int64
}

// Unreadable is one value a reseal could not open.
type Unreadable struct {
	Table, Field string
	Row          string // the row's primary key
	KeyID        string
	// KeyMissing: the key that sealed it is not configured; otherwise the
	// value does not open with its key (damaged, or moved from another
	// row or field).
	KeyMissing bool
}

// maxUnreadableListed bounds the unreadable values a report names one by
// one; the counts cover them all.
const maxUnreadableListed = 20

// ResealReport is what a reseal did.
type ResealReport struct {
	CurrentKeyID string
	// Pending is what was under another key than the current one when the
	// run started; nil when there was nothing to do.
	Pending []SealedValues
	Counts  []ResealCount
	// Unreadable names the first values that did not open.
	Unreadable []Unreadable
	Batches    int
	// Interrupted: the context ended and the run stopped after a batch.
	Interrupted bool
}

// UnreadableTotal is how many values did not open.
func (r *ResealReport) UnreadableTotal() int64 {
	var n int64
	for _, c := range r.Counts {
		n += c.Unreadable
	}
	return n
}

// ResealedTotal is how many values were moved to the current key.
func (r *ResealReport) ResealedTotal() int64 {
	var n int64
	for _, c := range r.Counts {
		n += c.Resealed
	}
	return n
}

// resealTally counts per table, field and old key id.
type resealTally map[[3]string]*ResealCount

func (t resealTally) at(table, field, keyID string) *ResealCount {
	k := [3]string{table, field, keyID}
	c := t[k]
	if c == nil {
		c = &ResealCount{Table: table, Field: field, KeyID: keyID}
		t[k] = c
	}
	return c
}

func (t resealTally) add(o resealTally) {
	for _, c := range o {
		m := t.at(c.Table, c.Field, c.KeyID)
		m.Resealed += c.Resealed
		m.Unreadable += c.Unreadable
		m.Changed += c.Changed
	}
}

func (t resealTally) sorted() []ResealCount {
	out := make([]ResealCount, 0, len(t))
	for _, c := range t {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b ResealCount) int { return fieldKeyOrder(a.Table, a.Field, a.KeyID, b.Table, b.Field, b.KeyID) })
	return out
}

// resealBatch is a batch's tally, the unreadable values it met and how
// many values its rows held when read.
type resealBatch struct {
	tally      resealTally
	unreadable []Unreadable
	values     int64
}

func newResealBatch() *resealBatch { return &resealBatch{tally: resealTally{}} }

// resealRow is a row read for resealing with its values sealed anew; ok
// is false when a value did not open and the row stays as it is.
type resealRow struct {
	stored   storedSealed
	resealed [2]string
	ok       bool
}

// resealer is one run of ResealFields.
type resealer struct {
	db     *DB
	fc     *FieldCipher
	origin Origin
	opt    ResealOptions
	stop   <-chan struct{}

	tally       resealTally
	unreadable  []Unreadable
	batches     int
	done, total int64 // values handled, and to handle
	interrupted bool  // stopped with work left
}

// ResealFields seals every value not under the current field key with
// the current key (see the comment at the top of this file). When ctx
// ends it finishes the batch in flight and returns with Interrupted set;
// the database work itself is not cancelled, so a batch always commits
// or rolls back whole. Values that do not open are counted and left as
// they are: the run goes on, and the report says which.
func (db *DB) ResealFields(ctx context.Context, o Origin, opt ResealOptions) (*ResealReport, error) {
	if opt.BatchSize <= 0 {
		opt.BatchSize = DefaultResealBatch
	}
	r := &resealer{db: db, fc: db.cipher(), origin: o, opt: opt, stop: ctx.Done(), tally: resealTally{}}
	work := context.WithoutCancel(ctx)
	report := &ResealReport{CurrentKeyID: r.fc.CurrentKeyID()}

	status, err := db.FieldKeyStatus(work)
	if err != nil {
		return nil, err
	}
	for _, s := range status {
		if s.KeyID != report.CurrentKeyID {
			report.Pending = append(report.Pending, s)
			r.total += s.Values
		}
	}
	if len(report.Pending) == 0 {
		return report, nil
	}
	err = db.Apply(work, o, func(*gorm.DB) (Change, error) {
		return Change{Action: ActionKeysResealStart, Target: r.target(),
			After: map[string]any{"current_key": report.CurrentKeyID, "to_reseal": byFieldAndKey(report.Pending),
				"batch_size": opt.BatchSize}}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("reseal: record its start: %w", err)
	}
	r.progress()

	summarized, err := r.run(work)
	report.Counts, report.Unreadable, report.Batches = r.tally.sorted(), r.unreadable, r.batches
	report.Interrupted = r.interrupted
	if err != nil {
		if !summarized {
			// Still say what the batches before the failure did.
			if serr := r.summarize(work, nil, "failed"); serr != nil {
				err = errors.Join(err, fmt.Errorf("reseal: record what it did: %w", serr))
			}
		}
		return report, err
	}
	if !summarized {
		if err := r.summarize(work, nil, r.outcome()); err != nil {
			return report, fmt.Errorf("reseal: record what it did: %w", err)
		}
	}
	return report, nil
}

func (r *resealer) target() Target {
	return Target{Type: "field_keys", ID: r.fc.CurrentKeyID()}
}

func (r *resealer) stopped() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

func (r *resealer) outcome() string {
	if r.interrupted {
		return "interrupted"
	}
	return "done"
}

func (r *resealer) progress() {
	if r.opt.Progress != nil {
		r.opt.Progress(ResealProgress{Done: r.done, Total: r.total, Batches: r.batches})
	}
}

// run reseals group after group, batch after batch, until all are done or
// it is told to stop. summarized reports that the totals are in the log.
func (r *resealer) run(ctx context.Context) (summarized bool, err error) {
	for gi, g := range sealedGroups {
		var after any // primary key of the last row read; nil: from the start
		for {
			if r.stopped() {
				r.interrupted = true
				return false, nil
			}
			rows, more, err := r.read(ctx, g, after)
			if err != nil {
				return false, err
			}
			if len(rows) == 0 {
				break
			}
			after = rows[len(rows)-1].stored.id(g)
			batch := r.prepare(g, rows)
			if r.opt.beforeWrite != nil {
				r.opt.beforeWrite()
			}
			remaining := more
			if !remaining {
				if remaining, err = r.workAfter(ctx, gi); err != nil {
					return false, err
				}
			}
			stop := r.stopped()
			r.interrupted = stop && remaining
			last := stop || !remaining
			if last {
				err = r.summarize(ctx, func(tx *gorm.DB) (*resealBatch, error) { return batch, r.write(tx, g, batch, rows) }, "")
			} else {
				err = r.writeAlone(ctx, g, batch, rows)
			}
			if err != nil {
				return false, err
			}
			r.batches++
			r.progress()
			if last {
				return true, nil
			}
			if !more {
				break
			}
		}
	}
	return false, nil
}

// read returns the next rows of g after the key after that hold a value
// under another key than the current one, and whether more follow.
func (r *resealer) read(ctx context.Context, g *sealedGroup, after any) ([]resealRow, bool, error) {
	q := r.db.gorm.WithContext(ctx).Table(g.table).Select(g.selectColumns()).
		Where(g.keyColumn+" <> ?", r.fc.CurrentKeyID()).Where(g.anySealed())
	if after != nil {
		q = q.Where(g.idColumn+" > ?", after)
	}
	var stored []storedSealed
	if err := q.Order(g.idColumn).Limit(r.opt.BatchSize + 1).Find(&stored).Error; err != nil {
		return nil, false, fmt.Errorf("reseal: read %s: %w", g.table, err)
	}
	more := len(stored) > r.opt.BatchSize
	if more {
		stored = stored[:r.opt.BatchSize]
	}
	rows := make([]resealRow, len(stored))
	for i := range stored {
		rows[i].stored = stored[i]
	}
	return rows, more, nil
}

// workAfter reports whether a group after the gi-th holds a value to
// reseal.
func (r *resealer) workAfter(ctx context.Context, gi int) (bool, error) {
	for _, g := range sealedGroups[gi+1:] {
		var found []struct {
			One int `gorm:"column:one"`
		}
		err := r.db.gorm.WithContext(ctx).Table(g.table).Select("1 AS one").
			Where(g.keyColumn+" <> ?", r.fc.CurrentKeyID()).Where(g.anySealed()).Limit(1).Find(&found).Error
		if err != nil {
			return false, fmt.Errorf("reseal: look for values in %s: %w", g.table, err)
		}
		if len(found) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// prepare opens each row's values and seals them with the current key,
// outside any transaction: the write then holds its locks only for the
// UPDATEs.
func (r *resealer) prepare(g *sealedGroup, rows []resealRow) *resealBatch {
	b := newResealBatch()
	for i := range rows {
		rows[i].resealed, rows[i].ok = r.reseal(g, &rows[i].stored, b)
		for f := range g.fields {
			if rows[i].stored.sealed(f) != "" {
				b.values++
			}
		}
	}
	return b
}

// reseal opens the row's values and seals them with the current key. A
// value that does not open is counted and listed in b, and the row is left
// as it is (its values share one key id).
func (r *resealer) reseal(g *sealedGroup, s *storedSealed, b *resealBatch) (out [2]string, ok bool) {
	ok = true
	for i, f := range g.fields {
		sealed := s.sealed(i)
		if sealed == "" {
			continue
		}
		plain, err := r.fc.Open(sealed, s.KeyID, f.context(s))
		if err != nil {
			ok = false
			b.tally.at(g.table, f.name, s.KeyID).Unreadable++
			b.unreadable = append(b.unreadable, Unreadable{Table: g.table, Field: f.name, Row: s.label(g),
				KeyID: s.KeyID, KeyMissing: !r.fc.Has(s.KeyID)})
			continue
		}
		out[i] = r.fc.Seal(plain, f.context(s))
	}
	return out, ok
}

// writeAlone commits a batch that is not the run's last in a transaction
// of its own: no audit entry, as it changes no plaintext; the run's
// summary entry counts it.
func (r *resealer) writeAlone(ctx context.Context, g *sealedGroup, b *resealBatch, rows []resealRow) error {
	r.db.lockWrites()
	defer r.db.unlockWrites()
	err := r.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return r.write(tx, g, b, rows)
	})
	if err != nil {
		return err
	}
	r.merge(b)
	return nil
}

func (r *resealer) merge(b *resealBatch) {
	r.tally.add(b.tally)
	r.done += b.values
	for _, u := range b.unreadable {
		if len(r.unreadable) < maxUnreadableListed {
			r.unreadable = append(r.unreadable, u)
		}
	}
}

// write stores the batch's resealed values in tx, each row only as it was
// read; a row changed since is handled again under a row lock.
func (r *resealer) write(tx *gorm.DB, g *sealedGroup, b *resealBatch, rows []resealRow) error {
	for i := range rows {
		row := &rows[i]
		if !row.ok {
			continue
		}
		changed, err := r.update(tx, g, &row.stored, row.resealed)
		if err != nil {
			return err
		}
		if !changed {
			r.count(g, &row.stored, b, func(c *ResealCount) { c.Resealed++ })
			continue
		}
		r.count(g, &row.stored, b, func(c *ResealCount) { c.Changed++ })
		if err := r.again(tx, g, row.stored.id(g), b); err != nil {
			return err
		}
	}
	return nil
}

// count applies fn to the tally of each value the row holds.
func (r *resealer) count(g *sealedGroup, s *storedSealed, b *resealBatch, fn func(*ResealCount)) {
	for i, f := range g.fields {
		if s.sealed(i) != "" {
			fn(b.tally.at(g.table, f.name, s.KeyID))
		}
	}
}

// update writes the resealed values of one row if it still holds what was
// read; changed reports that it did not.
func (r *resealer) update(tx *gorm.DB, g *sealedGroup, s *storedSealed, resealed [2]string) (changed bool, err error) {
	q := tx.Table(g.table).Where(g.idColumn+" = ?", s.id(g)).Where(g.keyColumn+" = ?", s.KeyID)
	if g.versioned {
		q = q.Where("version = ?", s.Version)
	}
	cols := map[string]any{g.keyColumn: r.fc.CurrentKeyID()}
	for i, f := range g.fields {
		q = q.Where(f.column+" = ?", s.sealed(i))
		cols[f.column] = resealed[i]
	}
	res := q.Updates(cols)
	if res.Error != nil {
		return false, fmt.Errorf("reseal: update %s %s: %w", g.table, s.label(g), res.Error)
	}
	return res.RowsAffected != 1, nil
}

// again reads a row that changed during the run under a lock and reseals
// what it now holds, if that is still under another key.
func (r *resealer) again(tx *gorm.DB, g *sealedGroup, id any, b *resealBatch) error {
	var now []storedSealed
	err := lockForUpdate(tx.Table(g.table)).Select(g.selectColumns()).Where(g.idColumn+" = ?", id).
		Where(g.keyColumn+" <> ?", r.fc.CurrentKeyID()).Where(g.anySealed()).Find(&now).Error
	if err != nil {
		return fmt.Errorf("reseal: read %s again: %w", g.table, err)
	}
	if len(now) == 0 {
		return nil // removed, emptied or already under the current key
	}
	s := &now[0]
	resealed, ok := r.reseal(g, s, b)
	if !ok {
		return nil
	}
	changed, err := r.update(tx, g, s, resealed)
	if err != nil {
		return err
	}
	if changed {
		// The row lock makes this impossible on PostgreSQL, and SQLite has
		// one writer at a time.
		return fmt.Errorf("reseal: %s %s changed under its row lock", g.table, s.label(g))
	}
	r.count(g, s, b, func(c *ResealCount) { c.Resealed++ })
	return nil
}

// summarize appends the run's summary entry through DB.Apply; last, when
// set, writes the run's last batch in the same transaction, which the
// summary then counts. outcome "" means done, or interrupted when the run
// was told to stop.
func (r *resealer) summarize(ctx context.Context, last func(tx *gorm.DB) (*resealBatch, error), outcome string) error {
	var batch *resealBatch
	err := r.db.Apply(ctx, r.origin, func(tx *gorm.DB) (Change, error) {
		tally := resealTally{}
		tally.add(r.tally)
		if last != nil {
			b, err := last(tx)
			if err != nil {
				return Change{}, err
			}
			tally.add(b.tally)
			batch = b
		}
		o := outcome
		if o == "" {
			o = r.outcome()
		}
		return Change{Action: ActionKeysReseal, Target: r.target(), After: r.summary(tally, o)}, nil
	})
	if err != nil {
		return err
	}
	if batch != nil {
		r.merge(batch)
	}
	return nil
}

// summary is the summary entry's content: the counts by table.field and
// old key id (flat names, so the audit log's redaction of personal field
// names such as "ssn" leaves the counts readable).
func (r *resealer) summary(t resealTally, outcome string) map[string]any {
	resealed, unreadable, changed := map[string]any{}, map[string]any{}, map[string]any{}
	put := func(m map[string]any, c *ResealCount, n int64) {
		if n == 0 {
			return
		}
		k := c.Table + "." + c.Field
		byKey, _ := m[k].(map[string]int64)
		if byKey == nil {
			byKey = map[string]int64{}
			m[k] = byKey
		}
		byKey[keyLabel(c.KeyID)] = n
	}
	for _, c := range t {
		put(resealed, c, c.Resealed)
		put(unreadable, c, c.Unreadable)
		put(changed, c, c.Changed)
	}
	out := map[string]any{"current_key": r.fc.CurrentKeyID(), "outcome": outcome, "resealed": resealed}
	if len(unreadable) > 0 {
		out["unreadable"] = unreadable
	}
	if len(changed) > 0 {
		out["changed_during_run"] = changed
	}
	return out
}

// byFieldAndKey is counts as the audit entries show them.
func byFieldAndKey(values []SealedValues) map[string]any {
	out := map[string]any{}
	for _, v := range values {
		k := v.Table + "." + v.Field
		byKey, _ := out[k].(map[string]int64)
		if byKey == nil {
			byKey = map[string]int64{}
			out[k] = byKey
		}
		byKey[keyLabel(v.KeyID)] += v.Values
	}
	return out
}

// keyLabel names a key id in audit entries; values stored without one
// are listed as "none".
func keyLabel(id string) string {
	if id == "" {
		return "none"
	}
	return id
}
