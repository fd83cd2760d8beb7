package main

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// benchThroughput loads one page of the portal and of the reference with
// conns concurrent clients for d each, twice, alternating sides, and
// prints the requests each served per second.
func benchThroughput(c *http.Client, portal, reference string, conns int, d time.Duration, stdout io.Writer) error {
	// The clients share c's session; its transport keeps a connection
	// per client.
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = conns
	fmt.Fprintf(stdout, "throughput, %d clients, %s per side and round:\n", conns, d)
	var rates [2][]float64
	for round := 1; round <= 2; round++ {
		for side, u := range []string{portal, reference} {
			n, err := loadFor(c, u, conns, d)
			if err != nil {
				return err
			}
			rates[side] = append(rates[side], float64(n)/d.Seconds())
		}
	}
	for side, name := range []string{"portal", "reference"} {
		fmt.Fprintf(stdout, "  %-9s %7.0f and %7.0f requests/s\n", name, rates[side][0], rates[side][1])
	}
	fmt.Fprintf(stdout, "  portal / reference: %.2fx\n", (rates[0][0]+rates[0][1])/(rates[1][0]+rates[1][1]))
	return nil
}

// loadFor requests u from conns goroutines until d has passed and counts
// the answers; any failure stops the run.
func loadFor(c *http.Client, u string, conns int, d time.Duration) (int64, error) {
	var done atomic.Int64
	var firstErr error
	var once sync.Once
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := fetch(c, u); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return done.Load(), firstErr
}
