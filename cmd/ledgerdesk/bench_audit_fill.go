package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"ledgerdesk/models"
)

// The audit benchmark's fill writes the log's table directly, as the
// tables' owner, which the portal itself never does: its only way to add
// an entry is models.DB.Apply. The fill lives here, in the bench tool, so
// the serving code offers no other way.

// auditFillBulkMin is the smallest fill that rebuilds the log's indexes
// instead of updating them row by row (as a bulk seed does).
const auditFillBulkMin = 10000

// auditFillMaintenanceMem is the memory the index rebuild sorts in.
const auditFillMaintenanceMem = "512MB"

// fillAudit appends n synthetic entries to the chain on PostgreSQL, for
// `ledgerdesk bench audit`: each linked and hashed like any entry, so the
// result verifies, and streamed with COPY in one transaction that holds
// the chain head, so memory stays flat and no writer interleaves. Their
// times spread over the span before now, oldest first. The actors are the
// given member ids, a few API keys and anonymous visitors.
func fillAudit(ctx context.Context, db *models.DB, n int, span time.Duration, members []string, progress func(done int)) error {
	if db.Dialect != models.Postgres {
		return errors.New("bench fill runs on PostgreSQL")
	}
	if len(members) == 0 {
		return errors.New("bench fill needs at least one member id")
	}
	sqlDB, err := db.SQL()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("bench fill needs a pgx connection, not %T", dc)
		}
		return fillAuditOn(ctx, sc.Conn(), n, span, members, progress)
	})
}

func fillAuditOn(ctx context.Context, c *pgx.Conn, n int, span time.Duration, members []string, progress func(int)) error {
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	var head models.ChainHead
	if err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_chain_head WHERE id = 1 FOR UPDATE`).Scan(&head.Seq, &head.Hash); err != nil {
		return fmt.Errorf("lock chain head: %w", err)
	}
	// Building the indexes once after the load beats updating each of
	// them row by row; the transaction puts them back if it fails.
	var indexes []string
	if n >= auditFillBulkMin && head.Seq <= int64(n) {
		rows, err := tx.Query(ctx, `SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
			FROM pg_index i WHERE i.indrelid = 'audit_entries'::regclass
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1`)
		if err != nil {
			return fmt.Errorf("read audit indexes: %w", err)
		}
		var names []string
		for rows.Next() {
			var name, def string
			if err := rows.Scan(&name, &def); err != nil {
				rows.Close()
				return err
			}
			names, indexes = append(names, name), append(indexes, def)
		}
		rows.Close()
		for _, name := range names {
			if _, err := tx.Exec(ctx, `DROP INDEX `+name); err != nil {
				return fmt.Errorf("drop index %s: %w", name, err)
			}
		}
	}
	rng := rand.New(rand.NewPCG(uint64(head.Seq), 42))
	start := models.Now().Add(-span)
	step := span / time.Duration(n+1)
	actions := []struct{ action, target string }{
		{"auth.login", ""}, {"auth.login_failed", ""}, {"auth.logout", ""},
		{"user.create", "end_user"}, {"user.update", "end_user"}, {"user.update", "end_user"},
		{"user.remove", "end_user"}, {"user.pii_reveal", "end_user"}, {"item.reset_login", "end_user"},
		{"team.update", "team_member"}, {"api.user_get", "end_user"}, {"api.user_get", "end_user"},
	}
	agents := []string{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36", "plaid-python/25.0.0"}
	prev := head.Hash
	i := 0
	e := models.AuditEntry{}
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i >= n {
			return nil, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		i++
		a := actions[rng.IntN(len(actions))]
		e = models.AuditEntry{Seq: head.Seq + int64(i), OccurredAt: start.Add(step * time.Duration(i)).Truncate(time.Microsecond),
			Action: a.action, RequestID: strconv.FormatUint(rng.Uint64(), 16),
			IP:        "10." + strconv.Itoa(rng.IntN(4)) + "." + strconv.Itoa(rng.IntN(250)) + "." + strconv.Itoa(1+rng.IntN(250)),
			UserAgent: agents[rng.IntN(len(agents))], PrevHash: prev, Diff: "{}"}
		switch {
		case a.action == "auth.login_failed":
			e.ActorType = models.ActorAnonymous
		case a.action == "api.user_get":
			e.ActorType, e.ActorID = models.ActorAPIKey, "key_"+strconv.Itoa(rng.IntN(20))
		default:
			e.ActorType, e.ActorID = models.ActorMember, members[rng.IntN(len(members))]
		}
		switch a.target {
		case "end_user":
			e.TargetType, e.TargetID = "end_user", strconv.Itoa(1+rng.IntN(200000))
			if a.action == "user.update" {
				e.Diff = `{"after":{"first_name":"[redacted]","item_count":` + strconv.Itoa(rng.IntN(9)) + `},"before":{"first_name":"[redacted]"}}`
			}
		case "team_member":
			e.TargetType, e.TargetID = "team_member", members[rng.IntN(len(members))]
			e.Diff = `{"after":{"role":"auditor"},"before":{"role":"compliance"}}`
		}
		if a.action == "user.pii_reveal" {
			e.Reason = "support ticket " + strconv.Itoa(rng.IntN(100000))
		}
		e.Hash = e.ComputeHash()
		prev = e.Hash
		if progress != nil && i%100000 == 0 {
			progress(i)
		}
		return []any{e.Seq, e.OccurredAt, string(e.ActorType), e.ActorID, e.Action, e.TargetType, e.TargetID,
			e.RequestID, e.IP, e.UserAgent, e.Diff, e.Reason, e.PrevHash, e.Hash}, nil
	})
	cols := []string{"seq", "occurred_at", "actor_type", "actor_id", "action", "target_type", "target_id",
		"request_id", "ip", "user_agent", "diff", "reason", "prev_hash", "hash"}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_entries"}, cols, src); err != nil {
		return fmt.Errorf("copy audit entries: %w", err)
	}
	if len(indexes) > 0 {
		if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '`+auditFillMaintenanceMem+`'`); err != nil {
			return err
		}
	}
	for _, def := range indexes {
		if _, err := tx.Exec(ctx, def); err != nil {
			return fmt.Errorf("rebuild index: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE audit_chain_head SET seq = $1, hash = $2, updated_at = $3 WHERE id = 1`,
		e.Seq, e.Hash, e.OccurredAt); err != nil {
		return fmt.Errorf("move chain head: %w", err)
	}
	return tx.Commit(ctx)
}
