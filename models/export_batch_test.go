package models

import "gorm.io/gorm"

// BatchCommitters lets tests occupy every committer, so that the changes
// they queue meanwhile share the next batches.
const BatchCommitters = committers

// AppendAuditForTest appends an extra entry from inside a change, as a
// change that records two events does.
func AppendAuditForTest(tx *gorm.DB, o Origin, c Change) error {
	_, err := appendAudit(tx, o, c)
	return err
}
