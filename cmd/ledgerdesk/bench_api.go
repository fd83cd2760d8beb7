package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/web"
)

// benchAPI measures the JSON API at scale: the latency of two reads, one
// client at a time, and the rate of /user/create with concurrent clients.
// It serves the real app on a local port and calls it over HTTP.
func benchAPI(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := newSettings("bench api", getenv, stderr)
	dbo := benchDBOptions(s)
	users := s.Int("users", 1_000_000, 1, maxSeedUsers, "end users to have in the database (seeded if fewer)")
	requests := s.Int("requests", 2000, 1, maxBenchRequests, "measured requests per read endpoint")
	creates := s.Int("creates", 10_000, 1, maxBenchRequests, "users created through /user/create")
	clients := s.Int("clients", 16, 1, 1000, "concurrent clients for /user/create")
	cpuProfile := s.String("cpuprofile", "", "", "write a CPU profile of the creates to this `file`", nil)
	if err := s.parse(args); err != nil {
		return err
	}
	db, secrets, err := openBenchDB(ctx, dbo, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := ensureUsers(ctx, db, *users, stdout); err != nil {
		return err
	}
	key, err := db.CreateAPIKey(ctx, models.Origin{Actor: models.SystemActor, UserAgent: "ledgerdesk bench api"},
		models.NewAPIKey{Name: "bench " + models.RandomHex(3), Scope: models.ScopeWrite})
	if err != nil {
		return err
	}
	var sample struct {
		ID     int64
		UserID string
	}
	if err := db.Gorm().Raw(`SELECT id, user_id FROM end_users WHERE removed_at IS NULL AND item_count >= 3 ORDER BY id LIMIT 1 OFFSET 5000`).
		Scan(&sample).Error; err != nil || sample.ID == 0 {
		return fmt.Errorf("pick a user with items: %v", err)
	}

	// The API's per-key limit would cap the measured rate: lifted here.
	base, shutdown, err := startApp(db, web.Config{SessionKey: secrets.SessionKey, APIRequestsPerMinute: -1})
	if err != nil {
		return err
	}
	defer shutdown()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *clients}}

	itemsBody := fmt.Sprintf(`{"client_id":%q,"secret":%q,"user_id":%q}`, key.Key.ClientID, key.Secret, sample.UserID)
	reads := []struct {
		name string
		req  func() *http.Request
	}{
		{"POST /user/items/get", func() *http.Request {
			r, _ := http.NewRequest("POST", base+"/user/items/get", bytes.NewBufferString(itemsBody))
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
		{"GET /2.0/users/{id}", func() *http.Request {
			r, _ := http.NewRequest("GET", base+"/2.0/users/"+strconv.FormatInt(sample.ID, 10), nil)
			r.Header.Set("Authorization", "Bearer "+key.Secret)
			return r
		}},
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "endpoint (%s users)\tp50\tp90\tp99\trequests\t\n", thousands(*users))
	for _, rd := range reads {
		timed, err := timeRuns(*requests/10+20, *requests, func() error { return call(client, rd.req(), http.StatusOK) })
		if err != nil {
			return fmt.Errorf("%s: %w", rd.name, err)
		}
		ds := timed[0]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t\n", rd.name, ms(percentile(ds, 50)), ms(percentile(ds, 90)), ms(percentile(ds, 99)), len(ds))
	}
	tw.Flush()

	// /user/create from concurrent clients, each with its own ids.
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	run := models.RandomHex(4)
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < *clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > int64(*creates) {
					return
				}
				body := fmt.Sprintf(`{"client_id":%q,"secret":%q,"client_user_id":"bench-%s-%d"}`, key.Key.ClientID, key.Secret, run, n)
				r, _ := http.NewRequest("POST", base+"/user/create", bytes.NewBufferString(body))
				r.Header.Set("Content-Type", "application/json")
				if err := call(client, r, http.StatusOK); err != nil {
					failed.Add(1)
					once.Do(func() { firstErr = err })
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Fprintf(stdout, "\nPOST /user/create: %d users by %d clients in %.2f s: %.0f per second (%d failed)\n",
		*creates, *clients, elapsed.Seconds(), float64(*creates)/elapsed.Seconds(), failed.Load())
	if firstErr != nil {
		return fmt.Errorf("/user/create: %w", firstErr)
	}
	return nil
}
