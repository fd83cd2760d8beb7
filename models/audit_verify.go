package models

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
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
	res, err := db.verifyAuditChain(ctx, progress)
	switch {
	case err != nil:
		db.observe().AuditVerified(VerifyFailed)
	case res.OK():
		db.observe().AuditVerified(VerifyIntact)
	default:
		db.observe().AuditVerified(VerifyBroken)
	}
	return res, err
}

func (db *DB) verifyAuditChain(ctx context.Context, progress func(checked int64)) (VerifyResult, error) {
	var res VerifyResult
	head, err := db.AuditHead(ctx)
	if err != nil {
		return res, fmt.Errorf("verify: read chain head: %w", err)
	}
	res.HeadSeq = head.Seq
	walk, err := db.walkChain(ctx, head.Seq, progress)
	if err != nil {
		return res, err
	}
	res.Checked = walk.checked
	fail := func(seq int64, format string, args ...any) (VerifyResult, error) {
		res.FirstBadSeq = seq
		res.Problem = fmt.Sprintf(format, args...)
		return res, nil
	}
	if walk.badSeq != 0 {
		return fail(walk.badSeq, "%s", walk.problem)
	}
	prevHash, last := walk.lastHash, walk.checked
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

// chainWalk is how far a walk of the chain got.
type chainWalk struct {
	checked  int64  // entries that verified, from seq 1
	lastHash string // the hash of entry checked (GenesisHash for none)
	badSeq   int64  // the first seq that did not verify, 0 if none
	problem  string
}

// walkChain checks entries 1 to upTo in seq order, batch by batch so
// memory stays bounded: seq has no gap, each prev_hash is the previous
// entry's hash and each hash matches the entry's content. It stops at the
// first entry that fails, or at the end of the entries, whichever comes
// first; progress, if not nil, hears the count after each batch. The next
// batch is read while this one is hashed, and hashing uses every core.
func (db *DB) walkChain(ctx context.Context, upTo int64, progress func(checked int64)) (chainWalk, error) {
	w := chainWalk{lastHash: GenesisHash}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan verifyBatchRead, 1)
	go db.readChain(ctx, upTo, batches)
	var expect int64 = 1
	hashOK := make([]bool, verifyBatch)
	for b := range batches {
		if b.err != nil {
			return w, b.err
		}
		checkHashes(b.entries, hashOK)
		for i := range b.entries {
			e := &b.entries[i]
			switch {
			case e.Seq != expect:
				w.badSeq, w.problem = expect, fmt.Sprintf("entry %d is missing (next entry is %d)", expect, e.Seq)
			case e.PrevHash != w.lastHash:
				w.badSeq, w.problem = e.Seq, fmt.Sprintf("prev_hash does not match the hash of entry %d", e.Seq-1)
			case !hashOK[i]:
				w.badSeq, w.problem = e.Seq, "content does not match its hash"
			}
			if w.badSeq != 0 {
				return w, nil
			}
			w.lastHash = e.Hash
			expect++
			w.checked++
		}
		if progress != nil {
			progress(w.checked)
		}
	}
	return w, nil
}

type verifyBatchRead struct {
	entries []AuditEntry
	err     error
}

// readChain sends the entries from seq 1 to upTo in batches, by keyset on
// seq, then closes out.
func (db *DB) readChain(ctx context.Context, upTo int64, out chan<- verifyBatchRead) {
	defer close(out)
	var from int64 = 1
	for from <= upTo {
		batch, err := db.readChainBatch(ctx, from, upTo)
		select {
		case out <- verifyBatchRead{batch, err}:
		case <-ctx.Done():
			return
		}
		if err != nil || len(batch) < verifyBatch {
			return
		}
		from = batch[len(batch)-1].Seq + 1
	}
}

// readChainBatch reads up to verifyBatch entries from seq from.
func (db *DB) readChainBatch(ctx context.Context, from, upTo int64) ([]AuditEntry, error) {
	rows, err := db.gorm.WithContext(ctx).Raw(`SELECT `+auditColumns.String()+` FROM audit_entries
		WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT `+strconv.Itoa(verifyBatch), from, upTo).Rows()
	if err != nil {
		return nil, fmt.Errorf("verify: read entries from seq %d: %w", from, err)
	}
	return auditRows.scan(rows, make([]AuditEntry, 0, verifyBatch))
}

// checkHashes sets ok[i] to whether entry i's content matches its hash,
// splitting the batch across the cores.
func checkHashes(es []AuditEntry, ok []bool) {
	workers := runtime.GOMAXPROCS(0)
	chunk := (len(es) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(es); lo += chunk {
		hi := min(lo+chunk, len(es))
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				ok[i] = es[i].ComputeHash() == es[i].Hash
			}
		}(lo, hi)
	}
	wg.Wait()
}
