package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"

	"ledgerdesk/web"
)

// The configuration reference (docs/configuration.md) is written from
// the commands' own flag declarations, so it cannot drift from them: each
// command that usage lists is run with a settingsRecorder as its stderr,
// which newSettings hands the command's settings to, and whose parse
// stops the command before it does anything.

// configReferenceFile is where `make docs` writes the reference.
const configReferenceFile = "docs/configuration.md"

func configReferenceCommand(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := newSettings("config-reference", getenv, stderr)
	if err := s.parse(args); err != nil {
		return err
	}
	doc, err := configReference()
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, doc)
	return err
}

// settingsRecorder is the stderr of a command being described, not run.
type settingsRecorder struct{ recorded []*settings }

func (*settingsRecorder) Write(p []byte) (int, error) { return len(p), nil }

// documented is one command of the reference.
type documented struct {
	name     string // admin create
	about    string // what usage says it does
	settings *settings
}

// commandLine is a line of usage that names a command: two spaces, then
// the command's words, then perhaps its flags and, after two spaces or
// more, what it does.
var commandLine = regexp.MustCompile(`^  ([a-z][a-z0-9-]*(?: [a-z][a-z0-9|-]*)*)(.*)$`)

// usageCommands reads the commands usage lists, in its order, once each.
// "keys reseal|status" names two commands.
func usageCommands(usage string) []documented {
	var out []documented
	seen := map[string]bool{}
	var last *documented
	for _, line := range strings.Split(usage, "\n") {
		if m := commandLine.FindStringSubmatch(line); m != nil {
			last = nil
			about := ""
			if _, after, ok := strings.Cut(m[2], "  "); ok {
				about = strings.TrimSpace(after)
			}
			words := strings.Fields(m[1])
			for _, sub := range strings.Split(words[len(words)-1], "|") {
				name := strings.Join(append(words[:len(words)-1:len(words)-1], sub), " ")
				if seen[name] {
					continue
				}
				seen[name] = true
				out = append(out, documented{name: name, about: about})
				last = &out[len(out)-1]
			}
			continue
		}
		// A deeper line goes on describing the command above it.
		if text := strings.TrimSpace(line); last != nil && strings.HasPrefix(line, "   ") && text != "" && !strings.HasPrefix(text, "...") {
			last.about = strings.TrimSpace(last.about + " " + text)
			continue
		}
		last = nil
	}
	return out
}

// describeCommands collects the settings of every command usage lists.
func describeCommands() ([]documented, error) {
	cmds := usageCommands(usage)
	// Nothing is meant to run; should a command run anyway, it finds its
	// context over and an empty environment.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	noEnv := func(string) string { return "" }
	for i := range cmds {
		rec := &settingsRecorder{}
		run(ctx, strings.Fields(cmds[i].name), noEnv, io.Discard, rec)
		if len(rec.recorded) != 1 {
			return nil, fmt.Errorf("ledgerdesk %s declared %d sets of settings, want 1: declare its flags with newSettings", cmds[i].name, len(rec.recorded))
		}
		cmds[i].settings = rec.recorded[0]
	}
	return cmds, nil
}

// environmentOnly are variables no flag stands for: keys stay out of
// command lines, which other users of the machine can read.
var environmentOnly = []struct{ name, takes, meaning string }{
	{web.EnvSessionKey, "hex, 32 bytes or more",
		"signs session cookies; CSRF tokens are derived from it. Every process serving one database needs the same"},
	{web.EnvFieldKey, "hex, 32 bytes",
		"encrypts at rest (AES-256-GCM) SSNs, dates of birth, two-step sign-in secrets and webhook signing secrets"},
	{web.EnvOldFieldKeys, "hex keys of 32 bytes, comma-separated",
		"retired field keys that still open values sealed before a key rotation"},
	{web.EnvAuditSigningKey, "hex Ed25519 seed (32 bytes) or private key (64 bytes)",
		"signs audit checkpoints"},
	{"GOMEMLIMIT", "a size, e.g. 512MiB",
		"the Go runtime's soft memory limit; unset, serve sets 128 MiB plus what the password hashes that may run at once need"},
}

// configReference is the text of docs/configuration.md.
func configReference() (string, error) {
	cmds, err := describeCommands()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(`# Configuration reference

<!-- Written by "make docs" (ledgerdesk config-reference) from the flag
declarations in cmd/ledgerdesk: change those, then run it again. -->

Every setting is a flag, and most are also an environment variable. A flag
wins over its variable; an empty variable counts as unset. Each value a
command reads is checked before it touches the database: one that does not
parse, is out of range or contradicts another stops the command with exit
code 2 and a line naming the flag and its variable. On/off settings take
true/false, 1/0, t/f, yes/no or on/off; durations take a unit (90s, 30m,
12h). ` + "`ledgerdesk COMMAND -h`" + ` prints one command's flags.

`)
	b.WriteString("Commands: ")
	for i, c := range cmds {
		if i > 0 {
			b.WriteString(" · ")
		}
		fmt.Fprintf(&b, "[%s](#%s)", c.name, anchor("ledgerdesk "+c.name))
	}
	b.WriteString("\n\n## Keys and other variables without a flag\n\n")
	b.WriteString("Without the three keys, the commands that need them generate them once into\n" +
		"`secrets.json` in the data directory (`--data`, mode 0600). Keys are never printed or logged.\n\n")
	b.WriteString("| environment variable | takes | what it sets |\n|---|---|---|\n")
	for _, v := range environmentOnly {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.name, cell(v.takes), cell(v.meaning))
	}
	for _, c := range cmds {
		fmt.Fprintf(&b, "\n## ledgerdesk %s\n\n", c.name)
		if c.about != "" {
			fmt.Fprintf(&b, "%s.\n\n", upperFirst(strings.TrimSuffix(c.about, ".")))
		}
		if len(c.settings.declared) == 0 {
			b.WriteString("No flags.\n")
			continue
		}
		b.WriteString("| flag | environment variable | default | takes | what it sets |\n|---|---|---|---|---|\n")
		for _, d := range c.settings.declared {
			env := ""
			if d.env != "" {
				env = "`" + d.env + "`"
			}
			fmt.Fprintf(&b, "| `--%s` | %s | %s | %s | %s |\n", d.flag, env, defaultCell(d), kindCell(d), cell(d.usage))
		}
	}
	return b.String(), nil
}

func defaultCell(d *setting) string {
	switch {
	case d.required:
		return "required"
	case d.def == "" || d.secret:
		return "empty"
	case d.kind == "bool" && d.def == "false":
		return "off"
	case d.kind == "bool" && d.def == "true":
		return "on"
	}
	return "`" + d.def + "`"
}

func kindCell(d *setting) string {
	if d.kind == "bool" {
		return "on/off"
	}
	return cell(d.kind)
}

// cell keeps text inside one table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// anchor is the id GitHub gives a heading: lower case, spaces to hyphens,
// other punctuation dropped.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}
