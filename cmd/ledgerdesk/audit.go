package main

import (
	"context"
	"fmt"
	"io"
)

func audit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "usage: ledgerdesk audit verify")
		return exitCode(2)
	}
	fs := newFlagSet("audit verify", stderr)
	var dbo dbOptions
	dbo.register(fs, getenv)
	if err := fs.Parse(args[1:]); err != nil {
		return exitCode(2)
	}
	db, err := dbo.open(ctx, false)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := db.VerifyAuditChain(ctx, nil)
	if err != nil {
		return err
	}
	if !res.OK() {
		fmt.Fprintf(stdout, "audit chain BROKEN at seq %d: %s (%d entries checked before it)\n", res.FirstBadSeq, res.Problem, res.Checked)
		return exitCode(1)
	}
	fmt.Fprintf(stdout, "audit chain intact: %d entries checked, head seq %d\n", res.Checked, res.HeadSeq)
	return nil
}
