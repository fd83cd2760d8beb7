package models

import (
	"context"
	"fmt"
)

// VerifyResult is the outcome of walking the audit chain.
type VerifyResult struct {
	Checked     int64  // entries read
	HeadSeq     int64  // the chain head's seq
	FirstBadSeq int64  // 0 when the chain is intact
	Problem     string // what is wrong at FirstBadSeq
}

// OK reports whether the chain verified.
func (r VerifyResult) OK() bool { return r.FirstBadSeq == 0 }

const verifyBatch = 5000

// VerifyAuditChain walks the log in seq order and checks that seq has no
// gap, each prev_hash is the previous entry's hash and each hash matches
// the entry's content, and that the chain head points at the last entry.
// Any edit, deletion, insertion or reordering breaks one of these; the
// result names the first seq where it does. progress, if not nil, is called
// after each batch with the number of entries checked so far.
func (db *DB) VerifyAuditChain(ctx context.Context, progress func(checked int64)) (VerifyResult, error) {
	var res VerifyResult
	head, err := db.AuditHead(ctx)
	if err != nil {
		return res, fmt.Errorf("verify: read chain head: %w", err)
	}
	res.HeadSeq = head.Seq
	prevHash := GenesisHash
	var expect int64 = 1
	fail := func(seq int64, format string, args ...any) (VerifyResult, error) {
		res.FirstBadSeq = seq
		res.Problem = fmt.Sprintf(format, args...)
		return res, nil
	}
	for {
		var batch []AuditEntry
		// Only up to the head read above: entries appended since then are
		// not part of the chain being checked (see the end for forgeries).
		err := db.gorm.WithContext(ctx).Where("seq >= ? AND seq <= ?", expect, head.Seq).
			Order("seq").Limit(verifyBatch).Find(&batch).Error
		if err != nil {
			return res, fmt.Errorf("verify: read entries from seq %d: %w", expect, err)
		}
		for i := range batch {
			e := &batch[i]
			switch {
			case e.Seq != expect:
				return fail(expect, "entry %d is missing (next entry is %d)", expect, e.Seq)
			case e.PrevHash != prevHash:
				return fail(e.Seq, "prev_hash does not match the hash of entry %d", e.Seq-1)
			case e.computeHash() != e.Hash:
				return fail(e.Seq, "content does not match its hash")
			}
			prevHash = e.Hash
			expect++
			res.Checked++
		}
		if progress != nil {
			progress(res.Checked)
		}
		if len(batch) < verifyBatch {
			break
		}
	}
	last := expect - 1
	switch {
	case head.Seq > last:
		return fail(last+1, "entry %d is missing (the chain head is at %d)", last+1, head.Seq)
	case head.Hash != prevHash:
		return fail(last, "the chain head's hash does not match entry %d", last)
	}
	// An entry beyond the head is a forgery, unless a writer appended it
	// meanwhile. Writers move the head in the transaction that appends, so
	// reading the newest seq first and the head after it sees every
	// legitimate entry covered by the head.
	var newest int64
	if err := db.gorm.WithContext(ctx).Model(&AuditEntry{}).Select("COALESCE(MAX(seq), 0)").Scan(&newest).Error; err != nil {
		return res, fmt.Errorf("verify: read newest seq: %w", err)
	}
	now, err := db.AuditHead(ctx)
	if err != nil {
		return res, fmt.Errorf("verify: read chain head: %w", err)
	}
	if newest > now.Seq {
		return fail(now.Seq+1, "entry %d lies beyond the chain head", now.Seq+1)
	}
	return res, nil
}
