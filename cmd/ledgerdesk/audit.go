package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"ledgerdesk/models"
)

const auditUsage = `usage:
  ledgerdesk audit verify [--checkpoint FILE --public-key KEY]
  ledgerdesk audit checkpoint
`

func audit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return exitCode(2)
	}
	switch args[0] {
	case "verify":
		return auditVerify(ctx, args[1:], getenv, stdout, stderr)
	case "checkpoint":
		return auditCheckpoint(ctx, args[1:], getenv, stdout, stderr)
	}
	fmt.Fprint(stderr, auditUsage)
	return exitCode(2)
}

// auditVerify checks the whole chain and, given a checkpoint file and the
// public key to trust, that the chain up to the checkpoint is the one
// that was signed.
func auditVerify(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := newSettings("audit verify", getenv, stderr)
	var dbo dbOptions
	dbo.register(s)
	cpFile := s.String("checkpoint", "", "", "a downloaded checkpoint `file` (JSON) to check the chain against", nil)
	pubKey := s.String("public-key", "", "", "the Ed25519 public key (base64 or hex) the checkpoint must be signed with, or a file holding it", nil)
	var cp models.AuditCheckpoint
	var pub ed25519.PublicKey
	s.check(func() string {
		if (*cpFile == "") != (*pubKey == "") {
			return "--checkpoint and --public-key go together"
		}
		if *cpFile == "" {
			return ""
		}
		b, err := os.ReadFile(*cpFile)
		if err == nil {
			cp, err = models.ParseCheckpointFile(b)
		}
		if err != nil {
			return fmt.Sprintf("--checkpoint: %v", err)
		}
		if pub, err = readPublicKey(*pubKey); err != nil {
			return err.Error()
		}
		return ""
	})
	if err := s.parse(args); err != nil {
		return err
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
	broken := false
	if res.OK() {
		fmt.Fprintf(stdout, "audit chain intact: %d entries checked, head seq %d\n", res.Checked, res.HeadSeq)
	} else {
		fmt.Fprintf(stdout, "audit chain BROKEN at seq %d: %s (%d entries checked before it)\n", res.FirstBadSeq, res.Problem, res.Checked)
		broken = true
	}
	if *cpFile != "" {
		cr, err := db.VerifyCheckpoint(ctx, cp, pub, nil)
		if err != nil {
			return err
		}
		signed := cp.SignedAt.UTC().Format(time.RFC3339)
		switch {
		case !cr.SignatureOK:
			fmt.Fprintf(stdout, "checkpoint REJECTED: %s\n", cr.Problem)
			broken = true
		case !cr.OK():
			fmt.Fprintf(stdout, "checkpoint MISMATCH at seq %d: %s\n", cr.FirstBadSeq, cr.Problem)
			broken = true
		default:
			fmt.Fprintf(stdout, "checkpoint matches: the chain up to seq %d is the chain signed on %s (hash %s)\n", cp.Seq, signed, cp.Hash)
		}
	}
	if broken {
		return exitCode(1)
	}
	return nil
}

// readPublicKey takes a key as text or, when s names a file, from it.
func readPublicKey(s string) (ed25519.PublicKey, error) {
	if b, err := os.ReadFile(s); err == nil {
		s = string(b)
	}
	pub, err := models.ParsePublicKey(s)
	if err != nil {
		return nil, fmt.Errorf("--public-key: %w", err)
	}
	return pub, nil
}

// auditCheckpoint signs the chain head now and prints the checkpoint.
func auditCheckpoint(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := newSettings("audit checkpoint", getenv, stderr)
	var dbo dbOptions
	dbo.register(s)
	s.checkSecrets()
	if err := s.parse(args); err != nil {
		return err
	}
	db, secrets, err := dbo.openWithSecrets(ctx, getenv, false)
	if err != nil {
		return err
	}
	defer db.Close()
	cp, err := db.CreateCheckpoint(ctx, models.Origin{Actor: models.SystemActor, UserAgent: "ledgerdesk audit checkpoint"}, secrets.AuditSigningKey)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "checkpoint %d signed: seq %d, hash %s, time %s\npublic key: %s\n",
		cp.ID, cp.Seq, cp.Hash, cp.SignedAt.UTC().Format(time.RFC3339Nano), cp.PublicKey)
	return nil
}

// checkpointEvery signs the chain head periodically while the portal
// runs, skipping a head already signed.
func checkpointEvery(ctx context.Context, db *models.DB, key ed25519.PrivateKey, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	origin := models.Origin{Actor: models.SystemActor, UserAgent: "ledgerdesk serve (checkpoint)"}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// Due is checked again while holding the chain head: of
			// several processes, one signs.
			due, err := db.CheckpointDue(ctx)
			if err == nil && due {
				var cp *models.AuditCheckpoint
				if cp, err = db.CreateCheckpointIfDue(ctx, origin, key); err == nil && cp != nil {
					log.Info("audit checkpoint signed", "seq", cp.Seq)
				}
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				log.Warn("audit checkpoint", "error", err.Error())
			}
		}
	}
}
