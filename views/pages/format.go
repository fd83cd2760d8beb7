package pages

import (
	"time"

	"ledgerdesk/views/components"
)

// zoneName is the zone's IANA name, for a page with no note at its foot.
func zoneName(zone *time.Location) string {
	if zone == nil {
		return "UTC"
	}
	return zone.String()
}

func plural(n int, unit string) string { return components.Plural(n, unit) }
