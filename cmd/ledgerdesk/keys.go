package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"ledgerdesk/models"
	"ledgerdesk/web"
)

const keysUsage = `usage:
  ledgerdesk keys status                    how many values each field key still seals
  ledgerdesk keys reseal [--batch-size N]   seal every value with the current field key

docs/keys.md says how to add a field key and retire an old one.
`

// keys runs the field key commands. They connect as the portal's role,
// like admin create: a reseal reads and writes what the portal itself
// does, through the audited write path.
func keys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return exitCode(2)
	}
	switch args[0] {
	case "status":
		return keysStatus(ctx, args[1:], getenv, stdout, stderr)
	case "reseal":
		return keysReseal(ctx, args[1:], getenv, stdout, stderr)
	}
	fmt.Fprint(stderr, keysUsage)
	return exitCode(2)
}

// checkFieldKeyKnown refuses to run without a field key that already
// exists: LoadSecrets would otherwise make a new one in an empty data
// directory, and a reseal would move every value to a key nobody keeps.
func checkFieldKeyKnown(s *settings, dbo *dbOptions) {
	s.check(func() string {
		if s.getenv(web.EnvFieldKey) != "" {
			return ""
		}
		path := filepath.Join(dbo.dataDir, "secrets.json")
		if _, err := os.Stat(path); err != nil {
			return fmt.Sprintf("no field key: set %s, or --data (LEDGERDESK_DATA) to the directory whose secrets.json holds it (%v); the keys commands never make a key",
				web.EnvFieldKey, err)
		}
		return ""
	})
}

// openForKeys parses the settings and opens the database with the field
// keys configured.
func openForKeys(ctx context.Context, s *settings, dbo *dbOptions, args []string) (*models.DB, *models.FieldCipher, error) {
	if err := s.parse(args); err != nil {
		return nil, nil, err
	}
	db, secrets, err := dbo.openWithPII(ctx, s.getenv, false, "")
	if err != nil {
		return nil, nil, err
	}
	fc, err := secrets.FieldCipher()
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, fc, nil
}

func keysStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := newSettings("keys status", getenv, stderr)
	var dbo dbOptions
	dbo.register(s)
	s.checkSecrets()
	checkFieldKeyKnown(s, &dbo)
	db, fc, err := openForKeys(ctx, s, &dbo, args)
	if err != nil {
		return err
	}
	defer db.Close()
	status, err := db.FieldKeyStatus(ctx)
	if err != nil {
		return err
	}
	printKeyStatus(stdout, fc, status)
	return nil
}

// keyIDPattern is what KeyID makes; anything else read from the database
// is quoted, so a tampered id cannot play tricks on the terminal.
var keyIDPattern = regexp.MustCompile(`^[0-9a-f]{8}$`)

func showKeyID(id string) string {
	if id == "" {
		return "(none)"
	}
	if keyIDPattern.MatchString(id) {
		return id
	}
	return strconv.Quote(id)
}

// keyRole says how a key id relates to the configured keys.
func keyRole(fc *models.FieldCipher, id string) string {
	switch {
	case id == fc.CurrentKeyID():
		return "current"
	case fc.Has(id):
		return "old"
	}
	return "NOT CONFIGURED"
}

// printKeyStatus writes the values per table, field and key, then a line
// per key saying what to do about it.
func printKeyStatus(w io.Writer, fc *models.FieldCipher, status []models.SealedValues) {
	fmt.Fprintf(w, "Current field key: %s\n", fc.CurrentKeyID())
	if len(status) == 0 {
		fmt.Fprintln(w, "No sealed values.")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TABLE\tFIELD\tKEY\tVALUES")
		for _, v := range status {
			fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\n", v.Table, v.Field, showKeyID(v.KeyID), keyRole(fc, v.KeyID), thousands(int(v.Values)))
		}
		tw.Flush()
	}
	per := map[string]int64{}
	var order []string
	for _, v := range status {
		if _, seen := per[v.KeyID]; !seen {
			order = append(order, v.KeyID)
		}
		per[v.KeyID] += v.Values
	}
	for _, id := range fc.KeyIDs()[1:] {
		if per[id] == 0 {
			fmt.Fprintf(w, "Old key %s seals nothing: it may leave %s (keep it while backups sealed with it are kept).\n", id, web.EnvOldFieldKeys)
		}
	}
	for _, id := range order {
		switch keyRole(fc, id) {
		case "old":
			fmt.Fprintf(w, "Old key %s still seals %s values: run `ledgerdesk keys reseal`.\n", id, thousands(int(per[id])))
		case "NOT CONFIGURED":
			fmt.Fprintf(w, "Key %s seals %s values but is not configured: they do not open. Add it to %s if you still have it.\n",
				showKeyID(id), thousands(int(per[id])), web.EnvOldFieldKeys)
		}
	}
}

// resealProgressEvery is how often a reseal writing to a file or pipe
// prints a progress line.
const resealProgressEvery = 5 * time.Second

func keysReseal(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := newSettings("keys reseal", getenv, stderr)
	var dbo dbOptions
	dbo.register(s)
	batch := s.Int("batch-size", models.DefaultResealBatch, 1, 10000, "rows written per transaction")
	s.checkSecrets()
	checkFieldKeyKnown(s, &dbo)
	db, fc, err := openForKeys(ctx, s, &dbo, args)
	if err != nil {
		return err
	}
	defer db.Close()

	// A first Ctrl-C or SIGTERM ends ctx: the batch in flight commits, then
	// the run stops. From then on a second one ends the process at once,
	// and the database rolls that batch back.
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
			signal.Reset(os.Interrupt, syscall.SIGTERM)
			fmt.Fprintln(stderr, "Stopping after the current batch (again to quit now; the batch then rolls back).")
		case <-finished:
		}
	}()

	show := newResealProgress(stdout)
	report, err := db.ResealFields(ctx, models.Origin{Actor: models.SystemActor, UserAgent: "ledgerdesk keys reseal"},
		models.ResealOptions{BatchSize: *batch, Progress: show.update})
	show.finish()
	if report == nil {
		return err
	}
	if report.Pending == nil {
		fmt.Fprintf(stdout, "Nothing to reseal: every sealed value is under the current key %s.\n", report.CurrentKeyID)
		return err
	}
	printResealReport(stdout, report)
	if err != nil {
		return err
	}
	status, err := db.FieldKeyStatus(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	printKeyStatus(stdout, fc, status)
	switch {
	case report.Interrupted:
		fmt.Fprintln(stderr, "Interrupted: what was resealed stays resealed. Run `ledgerdesk keys reseal` again to go on.")
		return exitCode(1)
	case report.UnreadableTotal() > 0:
		fmt.Fprintf(stderr, "%s values did not open and were left as they are (listed above).\n", thousands(int(report.UnreadableTotal())))
		return exitCode(1)
	}
	return nil
}

// printResealReport writes what a run did, per table, field and old key,
// and names the values that did not open.
func printResealReport(w io.Writer, r *models.ResealReport) {
	fmt.Fprintf(w, "Resealed %s values under key %s in %d batches.\n", thousands(int(r.ResealedTotal())), r.CurrentKeyID, r.Batches)
	if len(r.Counts) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TABLE\tFIELD\tOLD KEY\tRESEALED\tUNREADABLE\tCHANGED DURING RUN")
		for _, c := range r.Counts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Table, c.Field, showKeyID(c.KeyID),
				thousands(int(c.Resealed)), thousands(int(c.Unreadable)), thousands(int(c.Changed)))
		}
		tw.Flush()
	}
	for _, u := range r.Unreadable {
		why := "does not open with it (damaged, or copied from another row or field)"
		if u.KeyMissing {
			why = "is not configured"
		}
		fmt.Fprintf(w, "Unreadable: %s %s of row %s: sealed with key %s, which %s.\n", u.Table, u.Field, strconv.Quote(u.Row), showKeyID(u.KeyID), why)
	}
	if n := r.UnreadableTotal() - int64(len(r.Unreadable)); n > 0 {
		fmt.Fprintf(w, "... and %s more unreadable values.\n", thousands(int(n)))
	}
}

// resealProgress draws a bar on a terminal, and prints a line now and then
// to a file or pipe.
type resealProgress struct {
	w        io.Writer
	terminal bool
	bar      *progressbar.ProgressBar
	last     models.ResealProgress
	printed  time.Time
	began    time.Time
}

func newResealProgress(w io.Writer) *resealProgress {
	f, ok := w.(*os.File)
	return &resealProgress{w: w, terminal: ok && term.IsTerminal(int(f.Fd())), began: time.Now(), printed: time.Now()}
}

// update is called before the first batch (which gives the total) and
// after each one.
func (p *resealProgress) update(r models.ResealProgress) {
	first := p.last.Total == 0
	p.last = r
	if first {
		fmt.Fprintf(p.w, "Resealing %s values not under the current key.\n", thousands(int(r.Total)))
		if p.terminal {
			p.bar = progressbar.NewOptions64(r.Total, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription("resealing"),
				progressbar.OptionShowCount(), progressbar.OptionSetItsString("values"), progressbar.OptionShowIts(),
				progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond))
		}
	}
	if p.bar != nil {
		_ = p.bar.Set64(min(r.Done, r.Total))
		return
	}
	if time.Since(p.printed) >= resealProgressEvery {
		p.line()
	}
}

func (p *resealProgress) line() {
	p.printed = time.Now()
	fmt.Fprintf(p.w, "%s/%s values, %d batches, %.1f s\n", thousands(int(p.last.Done)), thousands(int(p.last.Total)),
		p.last.Batches, time.Since(p.began).Seconds())
}

func (p *resealProgress) finish() {
	if p.last.Total == 0 {
		return
	}
	if p.bar != nil {
		_ = p.bar.Exit()
		fmt.Fprintln(p.w)
		return
	}
	p.line()
}
