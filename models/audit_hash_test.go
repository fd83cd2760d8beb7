package models

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestFastHash_AgreesWithTheCanonicalJSON(t *testing.T) {
	base := AuditEntry{Seq: 42, OccurredAt: time.Date(2026, 12, 1, 13, 4, 2, 923217000, time.UTC), ActorType: ActorMember,
		ActorID: "5bc84ab0c565bc5b9ebf4f2e", Action: "user.update", TargetType: "end_user", TargetID: "17199",
		RequestID: "a1b2c3d4", IP: "10.1.2.3", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0",
		Diff: `{"after":{"first_name":"[redacted]","n":3},"before":{"x":null}}`, Reason: "ticket 4711: check", PrevHash: GenesisHash}
	variants := []func(e *AuditEntry){
		func(e *AuditEntry) {},
		func(e *AuditEntry) { e.OccurredAt = e.OccurredAt.Truncate(time.Second) },
		func(e *AuditEntry) { e.OccurredAt = e.OccurredAt.In(time.FixedZone("x", 3600)) },
		func(e *AuditEntry) { e.Diff = `{}` },
		func(e *AuditEntry) { e.Diff = `{"after": {"a": 1}}` },
		func(e *AuditEntry) { e.Diff = `{"after":{"a":"<b>&"}}` },
		func(e *AuditEntry) { e.Diff = `not json` },
		func(e *AuditEntry) { e.Diff = `` },
		func(e *AuditEntry) { e.UserAgent = "a <script> & \"quote\" \\ back" },
		func(e *AuditEntry) { e.Reason = "tab\there\nnewline \x00 \u2028 é ✓" },
		func(e *AuditEntry) { e.ActorID = "\xff\xfe broken utf-8" },
		func(e *AuditEntry) { e.TargetID = ""; e.TargetType = "" },
	}
	for i, v := range variants {
		e := base
		v(&e)
		if got, want := e.ComputeHash(), e.jsonHash(); got != want {
			t.Errorf("variant %d: fast %s, canonical %s", i, got, want)
		}
	}
	// Random printable entries, the kind the fast path takes.
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		var b strings.Builder
		for n := rng.IntN(30); n > 0; n-- {
			b.WriteByte(byte(0x20 + rng.IntN(0x5f)))
		}
		return b.String()
	}
	for i := 0; i < 5000; i++ {
		e := AuditEntry{Seq: rng.Int64(), OccurredAt: time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).Truncate(time.Microsecond),
			ActorType: ActorType(word()), ActorID: word(), Action: word(), TargetType: word(), TargetID: word(),
			RequestID: word(), IP: word(), UserAgent: word(), Reason: word(), PrevHash: word(), Diff: `{"a":"` + strings.NewReplacer(`"`, "", `\`, "").Replace(word()) + `"}`}
		if got, want := e.ComputeHash(), e.jsonHash(); got != want {
			t.Fatalf("random entry %+v: fast %s, canonical %s", e, got, want)
		}
	}
}
