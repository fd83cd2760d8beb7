package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"ledgerdesk/models"
)

// replicaOptions are serve's read replicas.
type replicaOptions struct {
	urls   string
	maxLag *time.Duration
}

func (o *replicaOptions) register(s *settings, dbo *dbOptions) {
	s.SecretVar(&o.urls, "database-replica-urls", "DATABASE_REPLICA_URLS",
		"comma-separated PostgreSQL URLs of streaming replicas of --database-url that serve the users list and search, user pages, the audit list, chart and history, and exports; empty: every read goes to --database-url",
		checkReplicaURLs)
	o.maxLag = s.Duration("replica-max-lag", "LEDGERDESK_REPLICA_MAX_LAG", models.DefaultReplicaMaxLag, 100*time.Millisecond,
		"a replica further behind the primary than this serves no reads until it catches up (at least 100ms)")
	s.check(func() string {
		if o.urls != "" && dbo.embedded() {
			return fmt.Sprintf("%s: read replicas need PostgreSQL: set %s too, or leave the replicas out with the embedded SQLite file",
				s.label("database-replica-urls"), s.label("database-url"))
		}
		return ""
	})
}

// checkReplicaURLs checks each URL as --database-url's are checked; the
// message names a URL by its place in the list, never by its text.
func checkReplicaURLs(v string) error {
	if strings.TrimSpace(v) != "" && len(splitList(v)) == 0 {
		return errors.New("want comma-separated postgres:// URLs")
	}
	for i, u := range splitList(v) {
		if err := checkDatabaseURL(u); err != nil {
			return fmt.Errorf("URL %d: %w", i+1, err)
		}
	}
	return nil
}

// add connects db to the replicas, logging each one's changes (by
// host:port: a URL may carry a password).
func (o *replicaOptions) add(db *models.DB, logger *slog.Logger) error {
	urls := splitList(o.urls)
	if len(urls) == 0 {
		return nil
	}
	err := db.AddReplicas(urls, models.ReplicaOptions{
		MaxLag: *o.maxLag,
		OnChange: func(replica string, serving bool, reason string) {
			if serving {
				logger.Info("read replica serves reads", "replica", replica)
			} else {
				logger.Warn("read replica serves no reads", "replica", replica, "reason", reason)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("--database-replica-urls: %w", err)
	}
	logger.Info("read replicas", "count", len(urls), "max_lag", o.maxLag.String())
	return nil
}
