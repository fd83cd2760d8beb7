package pages

import "time"

// zoneName is the zone's IANA name, for a page with no note at its foot.
func zoneName(zone *time.Location) string {
	if zone == nil {
		return "UTC"
	}
	return zone.String()
}
