package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"ledgerdesk/batches"
	"ledgerdesk/mail"
	"ledgerdesk/metrics"
	"ledgerdesk/models"
	"ledgerdesk/models/demo"
	"ledgerdesk/models/querytrace"
	"ledgerdesk/sso"
	"ledgerdesk/web"
	"ledgerdesk/webhooks"
)

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := newSettings("serve", getenv, stderr)
	var dbo dbOptions
	dbo.register(s)
	listen := s.String("listen", "LISTEN", "127.0.0.1:8080", "the `host:port` to listen on (port 0: any free port)", checkListen)
	metricsListen := s.String("metrics-listen", "LEDGERDESK_METRICS_LISTEN", "",
		"serve Prometheus metrics at http://`host:port`/metrics, a listener apart from the portal's; empty: off", checkMetricsListen)
	doMigrate := s.Bool("migrate", "", false, "apply pending migrations before serving (PostgreSQL)")
	secure := s.Bool("secure-cookies", "LEDGERDESK_SECURE_COOKIES", false,
		"mark cookies Secure and send HSTS: the portal is reached over TLS")
	tlsCert := s.String("tls-cert", "LEDGERDESK_TLS_CERT", "", "serve TLS with this certificate `file` (PEM)", nil)
	tlsKey := s.String("tls-key", "LEDGERDESK_TLS_KEY", "", "and this key `file` (PEM)", nil)
	// Each entry is parsed where it is used, in web.
	proxies := s.String("trusted-proxies", "LEDGERDESK_TRUSTED_PROXIES", "",
		"comma-separated `addresses` and CIDR ranges of the proxies whose X-Forwarded-For is trusted",
		func(v string) error { return web.CheckTrustedProxies(splitList(v)) })
	idle := s.Duration("idle-timeout", "LEDGERDESK_IDLE_TIMEOUT", 30*time.Minute, models.MinIdleTimeout,
		"a session ends after this long without a request (at least 2m, at most --absolute-timeout)")
	absolute := s.Duration("absolute-timeout", "LEDGERDESK_ABSOLUTE_TIMEOUT", 12*time.Hour, models.MinIdleTimeout,
		"a session ends this long after sign-in")
	environment := environmentSetting(s)
	adminEmail := s.String("admin-email", "LEDGERDESK_ADMIN_EMAIL", "admin@ledgerdesk.local",
		"email `address` of the first admin, created on an empty database", checkEmail)
	allowPrivate := s.Bool("webhook-allow-private", "LEDGERDESK_WEBHOOK_ALLOW_PRIVATE", false,
		"let webhooks reach private networks and loopback (link-local, metadata and other special addresses stay refused)")
	noDemo := s.Bool("no-demo-data", "LEDGERDESK_NO_DEMO_DATA", false,
		"start a new embedded database empty instead of with 1,000 demo end users")
	var smtpURL string
	s.SecretVar(&smtpURL, "smtp-url", "LEDGERDESK_SMTP_URL",
		"SMTP server for invitation emails: smtp://user:pass@host:587 (STARTTLS), smtps://…:465, or smtp://host:25?tls=none (no TLS); empty: links are only shown", nil)
	mailFrom := s.String("mail-from", "LEDGERDESK_MAIL_FROM", "", "From `address` of invitation emails (required with --smtp-url)", nil)
	smtpCA := s.String("smtp-ca-file", "LEDGERDESK_SMTP_CA_FILE", "",
		"PEM `file` of the authorities that sign the SMTP server's certificate, instead of the system's", nil)
	publicURL := s.String("public-url", "LEDGERDESK_PUBLIC_URL", "",
		"the portal's `URL` as people reach it: links sent by email, the identity provider's redirect URL, and the name passkeys are bound to (its host), e.g. https://ledgerdesk.example.com; empty: the address each request came to, and no passkeys", checkPublicURL)
	var oidc oidcOptions
	oidc.register(s)
	credentialRate := s.IntEnv("credential-attempts-per-minute", "LEDGERDESK_CREDENTIAL_ATTEMPTS_PER_MINUTE", 20, 1, 1_000_000,
		"sign-in, two-step code and password forms one client address may send a minute, refused before any is checked")
	apiRate := s.IntEnv("api-requests-per-minute", "LEDGERDESK_API_REQUESTS_PER_MINUTE", 1200, 0, 1_000_000_000,
		"JSON API calls one API key (or user_token) may make a minute; 0: no limit")
	checkpoints := s.Duration("audit-checkpoint-every", "LEDGERDESK_AUDIT_CHECKPOINT_EVERY", time.Hour, 0,
		"sign the audit chain head this often; 0 turns it off")
	var replicas replicaOptions
	replicas.register(s, &dbo)
	var logs logOptions
	logs.register(s)
	var tracing tracingOptions
	tracing.register(s)
	s.check(func() string {
		if *idle > *absolute {
			return fmt.Sprintf("%s (%v) must not exceed %s (%v)", s.label("idle-timeout"), *idle, s.label("absolute-timeout"), *absolute)
		}
		return ""
	})
	s.check(func() string {
		if *metricsListen != "" && samePort(*metricsListen, *listen) {
			return fmt.Sprintf("%s: %q is on the port %s listens on (%q): metrics are never served on the portal's port; give them a port of their own, e.g. 127.0.0.1:9464",
				s.label("metrics-listen"), *metricsListen, s.label("listen"), *listen)
		}
		return ""
	})
	var mailer *mail.SMTP
	s.check(func() (problem string) {
		mailer, problem = mailerFrom(s, smtpURL, *mailFrom, *smtpCA)
		return problem
	})
	var ssoClient *sso.Client
	s.check(func() (problem string) {
		ssoClient, problem = oidc.client(s, *publicURL)
		return problem
	})
	var cert *tls.Certificate
	s.check(func() string {
		if (*tlsCert == "") != (*tlsKey == "") {
			return fmt.Sprintf("%s and %s go together: set both to serve TLS, or neither", s.label("tls-cert"), s.label("tls-key"))
		}
		if *tlsCert == "" {
			return ""
		}
		c, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Sprintf("%s, %s: %v", s.label("tls-cert"), s.label("tls-key"), err)
		}
		cert = &c
		return ""
	})
	s.checkSecrets()
	if err := s.parse(args); err != nil {
		return err
	}
	logger := logs.logger(stderr)
	setMemoryLimit(getenv, logger)
	tracer, stopTracing, err := tracing.start(ctx, logger)
	if err != nil {
		return err
	}
	defer stopTracing()
	if mailer != nil && mailer.Insecure() {
		logger.Warn("invitation emails go to the mail server without TLS (tls=none in the SMTP URL): anyone on the way can read their links",
			"smtp_server", mailer.Addr())
	}

	db, secrets, err := dbo.openWithPII(ctx, getenv, *doMigrate, *environment)
	if err != nil {
		return err
	}
	defer db.Close()
	db.WatchQueries(querytrace.Settings{Slow: *logs.slow, Logger: logger, Tracing: tracer})
	if err := replicas.add(db, logger); err != nil {
		return err
	}
	warnRolePrivileges(ctx, db, logger)
	var portalMetrics *metrics.Metrics
	if *metricsListen != "" {
		portalMetrics = metrics.New(db)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	ln = web.Listener(ln)
	useTLS := cert != nil
	scheme := "http"
	if useTLS {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12})
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s", scheme, ln.Addr().String())
	var metricsLn net.Listener
	if portalMetrics != nil {
		if metricsLn, err = net.Listen("tcp", *metricsListen); err != nil {
			ln.Close()
			return fmt.Errorf("metrics listener: %w", err)
		}
		defer metricsLn.Close()
	}

	firstAdmin, password, err := ensureFirstAdmin(ctx, db, *adminEmail)
	if err != nil {
		ln.Close()
		return err
	}
	var seeded *demo.Result
	if firstAdmin != nil && dbo.embedded() && !*noDemo {
		if seeded, err = seedDemoData(ctx, db); err != nil {
			// The portal works without its demo data: say so and go on.
			logger.Warn("demo data not added", "error", err.Error())
		}
	}
	guard := &webhooks.Guard{AllowPrivate: *allowPrivate}
	app, err := web.Setup(web.Config{
		SecureCookies:               *secure || useTLS,
		TrustedProxies:              splitList(*proxies),
		CredentialAttemptsPerMinute: *credentialRate,
		APIRequestsPerMinute:        apiRequestsPerMinute(*apiRate),
		IdleTimeout:                 *idle,
		AbsoluteTimeout:             *absolute,
		SessionKey:                  secrets.SessionKey,
		Logger:                      logger,
		Tracing:                     tracer,
		WebhookGuard:                guard,
		Mailer:                      sender(mailer),
		PublicURL:                   *publicURL,
		SSO:                         ssoClient,
		Metrics:                     portalMetrics,
	}, db)
	if err != nil {
		ln.Close()
		return err
	}

	fmt.Fprintf(stdout, "Ledgerdesk is running at %s\n", url)
	if portalMetrics != nil {
		fmt.Fprintf(stdout, "Metrics at http://%s%s\n", metricsLn.Addr().String(), metrics.Path)
		logger.Info("serving metrics", "addr", metricsLn.Addr().String(), "path", metrics.Path)
		srv := portalMetrics.Server()
		go func() {
			if err := srv.Serve(metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics listener stopped", "error", err.Error())
			}
		}()
		defer srv.Close()
	}
	if seeded != nil {
		fmt.Fprintf(stdout, "Added %s demo end users with %s items to the new database (--no-demo-data starts empty).\n",
			thousands(seeded.Users), thousands(seeded.Items))
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
	// The batch runner stops with the server too, releasing a job it holds
	// so that another process resumes it at once.
	runnerCtx, stopRunner := context.WithCancel(ctx)
	runnerDone := make(chan struct{})
	go func() { (&batches.Runner{DB: db, Logger: logger}).Run(runnerCtx); close(runnerDone) }()
	defer func() { stopRunner(); <-runnerDone }()
	go checkpointEvery(ctx, db, secrets.AuditSigningKey, *checkpoints, logger)
	go refreshOverview(ctx, db, logger)

	errc := make(chan error, 1)
	go func() { errc <- app.Listener(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing requests in flight")
	shutdownErr := app.ShutdownWithTimeout(30 * time.Second)
	// Shutdown closes only the listeners the server has begun to serve: a
	// stop that arrives before app.Listener got that far would leave it
	// accepting forever, so the listener is closed here as well.
	ln.Close()
	if shutdownErr != nil {
		return fmt.Errorf("shutdown: %w", shutdownErr)
	}
	if err := <-errc; err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	stopWorker()
	stopRunner()
	<-workerDone
	<-runnerDone
	logger.Info("stopped")
	return nil
}

// ensureFirstAdmin creates an admin with a random password when the
// database has no team member yet. Of several processes starting at once
// on an empty database, one creates it; the others find it there.
func ensureFirstAdmin(ctx context.Context, db *models.DB, email string) (*models.TeamMember, string, error) {
	n, err := db.CountMembers(ctx)
	if err != nil || n > 0 {
		return nil, "", err
	}
	password := models.RandomToken(15)
	m, err := db.CreateMember(ctx, models.Origin{Actor: models.SystemActor}, models.NewMember{
		Email: email, Role: models.RoleAdmin, Password: password,
	})
	if models.ErrorKind(err) == models.KindConflict {
		// Another process created it since the count.
		return nil, "", nil
	}
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
func seedDemoData(ctx context.Context, db *models.DB) (*demo.Result, error) {
	has, err := db.HasEndUsers(ctx)
	if err != nil || has {
		return nil, err
	}
	res, err := demo.Seed(ctx, db, models.Origin{Actor: models.SystemActor, UserAgent: "ledgerdesk serve (demo data)"},
		demo.Options{Users: demoUsers, Seed: 1}, nil)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// purgeExpired clears dead sessions, sign-in failures and passkey
// requests nobody answered.
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
			if err := db.PurgePasskeyCeremonies(ctx); err != nil {
				log.Warn("purge passkey ceremonies", "error", err.Error())
			}
		}
	}
}

// mailerFrom is the invitation mailer the settings describe, or nil when
// no SMTP server is set; otherwise what is wrong with them.
func mailerFrom(s *settings, smtpURL, from, caFile string) (*mail.SMTP, string) {
	if from != "" {
		if err := mail.CheckFrom(from); err != nil {
			return nil, fmt.Sprintf("%s: %v", s.label("mail-from"), err)
		}
	}
	if smtpURL == "" {
		if caFile != "" {
			return nil, fmt.Sprintf("%s is set without %s", s.label("smtp-ca-file"), s.label("smtp-url"))
		}
		return nil, ""
	}
	if from == "" {
		return nil, fmt.Sprintf("%s is set: set %s too, e.g. Ledgerdesk <noreply@example.com>", s.label("smtp-url"), s.label("mail-from"))
	}
	m, err := mail.Parse(smtpURL, from)
	if err != nil {
		// mail.Parse never quotes the URL, which may hold a password.
		return nil, fmt.Sprintf("%s: %v", s.label("smtp-url"), err)
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Sprintf("%s: %v", s.label("smtp-ca-file"), err)
		}
		m.RootCAs = x509.NewCertPool()
		if !m.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Sprintf("%s: no PEM certificate in %s", s.label("smtp-ca-file"), caFile)
		}
	}
	return m, ""
}

// sender is m as the app takes it: no mailer is a nil interface, not a
// nil *SMTP.
func sender(m *mail.SMTP) mail.Sender {
	if m == nil {
		return nil
	}
	return m
}

// apiRequestsPerMinute is the flag's value as web.Config takes it: the
// flag's 0 (no limit) is a negative number there.
func apiRequestsPerMinute(flag int) int {
	if flag == 0 {
		return -1
	}
	return flag
}

// baseMemory is what the portal needs besides password hashes: pages,
// connections, caches.
const baseMemory = 128 << 20

// setMemoryLimit gives the Go runtime a soft memory limit, unless
// GOMEMLIMIT sets one: every password hash allocates 64 MiB that is
// garbage a moment later, and without a limit the collector lets a burst
// of sign-ins pile several of them up before it runs. The limit is what
// the hashes running at once need, plus baseMemory.
func setMemoryLimit(getenv func(string) string, log *slog.Logger) {
	if getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := baseMemory + models.PasswordHashingMemory()
	debug.SetMemoryLimit(limit)
	log.Info("memory limit", "bytes", limit, "set_with", "GOMEMLIMIT")
}

// refreshOverview keeps the overview's figures current: once at start, so
// the first page finds them, then every models.OverviewEvery.
func refreshOverview(ctx context.Context, db *models.DB, log *slog.Logger) {
	t := time.NewTicker(models.OverviewEvery)
	defer t.Stop()
	for {
		start := time.Now()
		refreshed, err := db.RefreshOverviewIfDue(ctx, models.OverviewEvery)
		switch {
		case err != nil && !errors.Is(err, context.Canceled):
			log.Warn("overview refresh", "error", err.Error())
		case refreshed:
			log.Debug("overview refreshed", "took", time.Since(start).String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
