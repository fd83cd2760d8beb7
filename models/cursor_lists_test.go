package models_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// Every list answers a cursor it did not write the same way, before any
// of it reaches the database: an invalid page link, never a failed query.
func TestLists_RefuseHostileAndForeignCursors(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		insertUsers(t, db, "cursor", 3, threePerSecond, nil)
		b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		usersToken := models.CursorAfter(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), 5)
		auditToken := models.AuditCursorBefore(5)
		lists := map[string]func(cursor string) error{
			"users": func(s string) error {
				_, err := db.ListEndUsers(ctx, models.UserPageRequest{Cursor: s})
				return err
			},
			"team": func(s string) error {
				_, err := db.ListMembers(ctx, models.MemberPageRequest{Cursor: s})
				return err
			},
			"dashboard users": func(s string) error {
				_, err := db.ListDashboardUsers(ctx, s)
				return err
			},
			"api keys": func(s string) error {
				_, err := db.ListAPIKeys(ctx, s)
				return err
			},
			"audit": func(s string) error {
				_, err := db.ListAudit(ctx, models.AuditPageRequest{Cursor: s})
				return err
			},
			"deliveries": func(s string) error {
				_, err := db.WebhookDeliveries(ctx, models.DeliveryPageRequest{EndpointID: 1, Cursor: s})
				return err
			},
		}
		hostile := map[string]string{
			"garbage":          "garbage!",
			"NUL bytes":        "\x00\x00\x00",
			"NUL in payload":   b64("1un.\x00.5"),
			"invalid UTF-8":    "\xc3\x28\xff",
			"a megabyte":       strings.Repeat("A", 1<<20),
			"old users cursor": b64(`{"t":"2024-01-01T00:00:00Z","i":5,"d":"n"}`),
			"old audit cursor": b64(`{"s":5,"d":"p"}`),
		}
		for list, read := range lists {
			for name, s := range hostile {
				if err := read(s); models.ErrorKind(err) != models.KindInvalid {
					t.Errorf("%s list, %s cursor: %v", list, name, err)
				}
			}
			if err := read(usersToken); (list == "users") != (err == nil) {
				t.Errorf("%s list, a users cursor: %v", list, err)
			}
			if err := read(auditToken); (list == "audit") != (err == nil) {
				t.Errorf("%s list, an audit cursor: %v", list, err)
			}
		}
	})
}
