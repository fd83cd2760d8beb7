package models

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"time"

	// The zones load the same on a host without a zoneinfo directory
	// (a minimal container), from the copy in the binary.
	_ "time/tzdata"

	"gorm.io/gorm"

	"ledgerdesk/models/text"
)

//go:embed data/time_zones.txt
var timeZonesText string

// TimeZones are the IANA zones a member may choose, sorted: every zone of
// a continent or ocean, Etc/ and UTC (data/gen_time_zones.go).
var TimeZones = strings.Fields(timeZonesText)

var timeZoneSet = func() map[string]bool {
	s := make(map[string]bool, len(TimeZones))
	for _, z := range TimeZones {
		s[z] = true
	}
	return s
}()

// MaxTimeZoneLength bounds a zone's name; the longest is 32 characters.
const MaxTimeZoneLength = 64

// FieldTimeZone is the account form's field for the member's zone.
const FieldTimeZone = "time_zone"

// loadedZones keeps each zone once loaded: every page formats its times in
// one, and time.LoadLocation reads and parses the zone's file each call.
// Only names of TimeZones are stored, so it stays small.
var loadedZones sync.Map // name → *time.Location

// ZoneProblem says why name is not a zone a member may choose, as a
// sentence to show beside the field; "" when it is one.
func ZoneProblem(name string) string {
	if len(name) > MaxTimeZoneLength {
		return "That is too long to be a time zone: choose one from the list."
	}
	if p := text.Line(MaxTimeZoneLength).Problem(name); p != "" {
		return p
	}
	if !timeZoneSet[name] {
		return "Choose a time zone from the list, such as Europe/Paris or America/New_York."
	}
	return ""
}

// LoadZone returns the zone of that name, one of TimeZones. Anything else,
// including names time.LoadLocation would take from the host (Local, a
// path), is refused.
func LoadZone(name string) (*time.Location, error) {
	if loc, ok := loadedZones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if p := ZoneProblem(name); p != "" {
		return nil, (FieldErrors{FieldTimeZone: p}).Err()
	}
	// The name may share a request's buffer, and the zone keeps it.
	name = strings.Clone(name)
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, (FieldErrors{FieldTimeZone: "Choose a time zone from the list: this one is not known to the server."}).Err()
	}
	loadedZones.Store(name, loc)
	return loc, nil
}

// ZoneSource says where the zone a member reads times in comes from.
type ZoneSource int

const (
	ZoneDefault ZoneSource = iota // neither chosen nor known from the browser: UTC
	ZoneChosen                    // chosen on the account page
	ZoneBrowser                   // the browser's, as its page reported it
)

// Zone is the zone a member reads times in, and where it comes from.
type Zone struct {
	Location *time.Location
	Source   ZoneSource
}

// Name is the zone's IANA name.
func (z Zone) Name() string { return z.Location.String() }

// ResolveZone is the zone a member reads times in: the one they chose,
// else their browser's, else UTC. The browser's name comes from a cookie
// and is checked like any input; one that does not load counts as none.
func ResolveZone(chosen, browser string) Zone {
	if chosen != "" {
		if loc, err := LoadZone(chosen); err == nil {
			return Zone{loc, ZoneChosen}
		}
	}
	if browser != "" {
		if loc, err := LoadZone(browser); err == nil {
			return Zone{loc, ZoneBrowser}
		}
	}
	return Zone{time.UTC, ZoneDefault}
}

// SetMemberTimeZone records the zone a member reads times in ("" follows
// their browser), audited as team.update. The zone they already have is
// left alone, unaudited.
func (db *DB) SetMemberTimeZone(ctx context.Context, o Origin, memberID, zone string) (*TeamMember, error) {
	if zone != "" {
		if _, err := LoadZone(zone); err != nil {
			return nil, err
		}
	}
	var out *TeamMember
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		m, err := lockMember(tx, memberID)
		if err != nil {
			return Change{}, err
		}
		out = m
		if m.TimeZone == zone {
			return Change{}, errNothingToChange
		}
		before := m.TimeZone
		m.TimeZone, m.UpdatedAt = zone, Now()
		if err := tx.Model(&TeamMember{}).Where("id = ?", m.ID).
			Updates(map[string]any{"time_zone": m.TimeZone, "updated_at": m.UpdatedAt}).Error; err != nil {
			return Change{}, fmt.Errorf("set time zone of member %s: %w", m.ID, err)
		}
		return Change{Action: "team.update", Target: m.AuditTarget(),
			Before: map[string]any{FieldTimeZone: before}, After: map[string]any{FieldTimeZone: zone}}, nil
	})
	if err != nil && err != errNothingToChange {
		return nil, err
	}
	return out, nil
}
