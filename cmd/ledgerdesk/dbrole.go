package main

import (
	"context"
	"log/slog"

	"ledgerdesk/models"
)

// warnRolePrivileges logs, at start, each way the database role the portal
// is connected as could undo the audit log's append-only guard: the portal
// runs either way, but an operator should hear of it.
func warnRolePrivileges(ctx context.Context, db *models.DB, log *slog.Logger) {
	problems, err := db.RoleProblems(ctx)
	if err != nil {
		log.Warn("could not check the database role's privileges", "error", err.Error())
		return
	}
	for _, p := range problems {
		log.Warn("database role can change the audit log", "problem", p.Problem, "fix", p.Fix)
	}
}
