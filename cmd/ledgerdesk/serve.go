package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/web"
	"ledgerdesk/web/mail"
	"ledgerdesk/webhooks"
)

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var dbo dbOptions
	dbo.register(fs, getenv)
	listen := fs.String("listen", envOr(getenv, "LISTEN", "127.0.0.1:8080"), "address to listen on (env LISTEN)")
	doMigrate := fs.Bool("migrate", false, "apply pending migrations before serving (PostgreSQL)")
	secure := fs.Bool("secure-cookies", envBool(getenv, "LEDGERDESK_SECURE_COOKIES"),
		"mark cookies Secure and send HSTS: the portal is reached over TLS (env LEDGERDESK_SECURE_COOKIES)")
	tlsCert := fs.String("tls-cert", getenv("LEDGERDESK_TLS_CERT"), "serve TLS with this certificate file")
	tlsKey := fs.String("tls-key", getenv("LEDGERDESK_TLS_KEY"), "and this key file")
	proxies := fs.String("trusted-proxies", getenv("LEDGERDESK_TRUSTED_PROXIES"),
		"comma-separated proxy addresses whose X-Forwarded-For is trusted (env LEDGERDESK_TRUSTED_PROXIES)")
	idle := fs.Duration("idle-timeout", envDuration(getenv, "LEDGERDESK_IDLE_TIMEOUT", 30*time.Minute), "session idle timeout")
	absolute := fs.Duration("absolute-timeout", envDuration(getenv, "LEDGERDESK_ABSOLUTE_TIMEOUT", 12*time.Hour), "session absolute timeout")
	environment := envFlag(fs, getenv)
	adminEmail := fs.String("admin-email", envOr(getenv, "LEDGERDESK_ADMIN_EMAIL", "admin@ledgerdesk.local"),
		"email of the first admin, created on an empty database")
	allowPrivate := fs.Bool("webhook-allow-private", envBool(getenv, "LEDGERDESK_WEBHOOK_ALLOW_PRIVATE"),
		"let webhooks reach private, loopback and link-local addresses (env LEDGERDESK_WEBHOOK_ALLOW_PRIVATE)")
	noDemo := fs.Bool("no-demo-data", envBool(getenv, "LEDGERDESK_NO_DEMO_DATA"),
		"start a new embedded database empty instead of with 1,000 demo end users (env LEDGERDESK_NO_DEMO_DATA)")
	smtpURL := fs.String("smtp-url", getenv("LEDGERDESK_SMTP_URL"),
		"SMTP server for invitation emails, smtp://user:pass@host:587 or smtps://…:465 (env LEDGERDESK_SMTP_URL); empty: links are only shown")
	mailFrom := fs.String("mail-from", getenv("LEDGERDESK_MAIL_FROM"), "From address of invitation emails (env LEDGERDESK_MAIL_FROM)")
	publicURL := fs.String("public-url", getenv("LEDGERDESK_PUBLIC_URL"),
		"the portal's address in links sent by email, e.g. https://ledgerdesk.example.com (env LEDGERDESK_PUBLIC_URL)")
	checkpoints := fs.Duration("audit-checkpoint-every", envDuration(getenv, "LEDGERDESK_AUDIT_CHECKPOINT_EVERY", time.Hour),
		"sign the audit chain head this often; 0 turns it off (env LEDGERDESK_AUDIT_CHECKPOINT_EVERY)")
	if err := fs.Parse(args); err != nil {
		return exitCode(2)
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	mailer, err := mailerFrom(*smtpURL, *mailFrom)
	if err != nil {
		return err
	}

	secrets, err := web.LoadSecrets(dbo.dataDir, getenv)
	if err != nil {
		return err
	}
	db, err := dbo.open(ctx, *doMigrate)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := configurePII(db, secrets, *environment); err != nil {
		return err
	}
	warnRolePrivileges(ctx, db, logger)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	useTLS := *tlsCert != "" && *tlsKey != ""
	scheme := "http"
	if useTLS {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s", scheme, ln.Addr().String())

	firstAdmin, password, err := ensureFirstAdmin(ctx, db, *adminEmail)
	if err != nil {
		ln.Close()
		return err
	}
	var demo *models.SeedResult
	if firstAdmin != nil && dbo.embedded() && !*noDemo {
		if demo, err = seedDemoData(ctx, db); err != nil {
			// The portal works without its demo data: say so and go on.
			logger.Warn("demo data not added", "error", err.Error())
		}
	}
	guard := &webhooks.Guard{AllowPrivate: *allowPrivate}
	app, err := web.Setup(web.Config{
		SecureCookies:   *secure || useTLS,
		TrustedProxies:  splitList(*proxies),
		IdleTimeout:     *idle,
		AbsoluteTimeout: *absolute,
		SessionKey:      secrets.SessionKey,
		Logger:          logger,
		WebhookGuard:    guard,
		Mailer:          mailer,
		PublicURL:       *publicURL,
	}, db)
	if err != nil {
		ln.Close()
		return err
	}

	fmt.Fprintf(stdout, "Ledgerdesk is running at %s\n", url)
	if demo != nil {
		fmt.Fprintf(stdout, "Added %s demo end users with %s items to the new database (--no-demo-data starts empty).\n",
			thousands(demo.Users), thousands(demo.Items))
	}
	if firstAdmin != nil {
		// Printed to the terminal once, never logged: the only copy.
		fmt.Fprintf(stdout, "\nFirst admin created. Sign in with:\n  email:    %s\n  password: %s\n"+
			"Change the password on the Account page after signing in.\n\n", firstAdmin.EmailAddress, password)
	}
	logger.Info("serving", "addr", ln.Addr().String(), "database", string(db.Dialect))

	go purgeExpired(ctx, db, models.SessionLimits{Idle: *idle, Absolute: *absolute}, logger)
	// The webhook worker stops with the server; on the way out it abandons
	// requests in flight and releases their rows, so another process sends
	// them without waiting for the lease.
	workerCtx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan struct{})
	worker := &webhooks.Worker{DB: db, Guard: guard, Logger: logger}
	go func() { worker.Run(workerCtx); close(workerDone) }()
	defer func() { stopWorker(); <-workerDone }()
	go checkpointEvery(ctx, db, secrets.AuditSigningKey, *checkpoints, logger)

	errc := make(chan error, 1)
	go func() { errc <- app.Listener(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing requests in flight")
	if err := app.ShutdownWithTimeout(30 * time.Second); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	stopWorker()
	<-workerDone
	logger.Info("stopped")
	return nil
}

// ensureFirstAdmin creates an admin with a random password when the
// database has no team member yet.
func ensureFirstAdmin(ctx context.Context, db *models.DB, email string) (*models.TeamMember, string, error) {
	n, err := db.CountMembers(ctx)
	if err != nil || n > 0 {
		return nil, "", err
	}
	password := models.RandomToken(15)
	m, err := db.CreateMember(ctx, models.Origin{Actor: models.SystemActor}, models.NewMember{
		Email: email, Role: models.RoleAdmin, Password: password,
	})
	if err != nil {
		return nil, "", fmt.Errorf("create first admin: %w", err)
	}
	return m, password, nil
}

// demoUsers is how many end users a new embedded database starts with.
const demoUsers = 1000

// seedDemoData gives a brand-new embedded database demo end users and
// items, so a newcomer sees a living portal; a database that has any end
// user is left alone.
func seedDemoData(ctx context.Context, db *models.DB) (*models.SeedResult, error) {
	has, err := db.HasEndUsers(ctx)
	if err != nil || has {
		return nil, err
	}
	res, err := db.Seed(ctx, models.Origin{Actor: models.SystemActor, UserAgent: "ledgerdesk serve (demo data)"},
		models.SeedOptions{Users: demoUsers, Seed: 1}, nil)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// purgeExpired clears dead sessions, CSRF tokens and sign-in failures.
func purgeExpired(ctx context.Context, db *models.DB, limits models.SessionLimits, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := db.PurgeExpired(ctx, limits); err != nil {
				log.Warn("purge expired sessions", "error", err.Error())
			}
		}
	}
}

// mailerFrom is the invitation mailer the settings describe, or nil when
// no SMTP server is set.
func mailerFrom(smtpURL, from string) (mail.Sender, error) {
	if smtpURL == "" {
		return nil, nil
	}
	if from == "" {
		return nil, fmt.Errorf("LEDGERDESK_SMTP_URL is set: set LEDGERDESK_MAIL_FROM (--mail-from) too")
	}
	m, err := mail.Parse(smtpURL, from)
	if err != nil {
		return nil, fmt.Errorf("LEDGERDESK_SMTP_URL: %w", err)
	}
	return m, nil
}
