package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"ledgerdesk/web/webtest"
)

// collector stands in for an OpenTelemetry collector's OTLP/HTTP
// receiver: it keeps the bodies posted to /v1/traces.
type collector struct {
	mu     sync.Mutex
	bodies [][]byte
	kinds  []string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	if r.URL.Path == "/v1/traces" && r.Method == http.MethodPost {
		c.bodies = append(c.bodies, body)
		c.kinds = append(c.kinds, r.Header.Get("Content-Type"))
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func (c *collector) received() ([]byte, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Join(c.bodies, nil), append([]string(nil), c.kinds...)
}

// serve with a slow-query threshold every statement passes and an OTLP
// endpoint: slow statements are logged with their request's id and
// trace, never a value, and the request's spans reach the collector when
// serve stops.
func TestServe_LogsSlowStatementsAndExportsTraces(t *testing.T) {
	otlp := &collector{}
	srv := httptest.NewServer(otlp)
	defer srv.Close()

	s := startServe(t, env("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL, "OTEL_SERVICE_NAME", "ignored-here",
		"OTEL_TRACES_SAMPLER", "parentbased_always_on"),
		"--data", t.TempDir(), "--no-demo-data", "--slow-query", "1ns")
	if !strings.Contains(s.stderr.String(), `"msg":"tracing on","endpoint":"`+srv.URL+`/v1/traces"`) {
		t.Errorf("serve does not say that tracing is on, and where to:\n%s", s.stderr)
	}
	email, password := credentials(s.stdout.String())
	signIn(t, s.URL, email, password)
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exited %d", code)
	}

	// The sign-in's statements were logged, each with its request's id
	// and trace; the password and the email never.
	var traceIDs []string
	slow, sessions := 0, false
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		var l struct {
			Msg       string `json:"msg"`
			SQL       string `json:"sql"`
			RequestID string `json:"request_id"`
			TraceID   string `json:"trace_id"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.Msg != "slow query" {
			continue
		}
		slow++
		if l.RequestID == "" {
			continue // start-up and background work
		}
		if l.TraceID == "" {
			t.Errorf("a request's statement is logged without its trace: %s", line)
		}
		traceIDs = append(traceIDs, l.TraceID)
		sessions = sessions || strings.Contains(l.SQL, "sessions")
	}
	if slow == 0 || len(traceIDs) == 0 || !sessions {
		t.Fatalf("the sign-in's statements (its session's among them) were not logged with its request id:\n%s", s.stderr)
	}
	if n := webtest.Leaks(s.stderr.String(), []string{password, email}); n != 0 {
		t.Fatalf("the sign-in's password or email reached the log:\n%s", s.stderr)
	}

	// The spans went out: the sign-in's request spans, by route, and
	// their statements, in the traces the log names.
	body, kinds := otlp.received()
	if len(kinds) == 0 || kinds[0] != "application/x-protobuf" {
		t.Fatalf("the collector received %v, want OTLP protobuf posts to /v1/traces", kinds)
	}
	for _, want := range []string{"ledgerdesk", "POST /login", "GET /login", "http.route", "db.query.text", "sessions"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("the exported spans do not mention %q", want)
		}
	}
	for _, id := range traceIDs {
		raw, _ := hex.DecodeString(id)
		if len(raw) != 16 || !bytes.Contains(body, raw) {
			t.Errorf("the log names trace %s, which was not exported", id)
		}
	}
	if bytes.Contains(body, []byte(password)) || bytes.Contains(body, []byte(email)) {
		t.Error("the exported spans carry the password or the email")
	}
}

// --log-format text writes key=value lines; --log-level keeps the less
// important ones out.
func TestServe_LogFormatAndLevel(t *testing.T) {
	s := startServe(t, env("LEDGERDESK_LOG_FORMAT", "text"), "--data", t.TempDir(), "--no-demo-data", "--log-level", "DEBUG")
	resp, err := http.Get(s.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The overview's first refresh, at start, is logged at debug.
	waitFor(t, 10*time.Second, "a debug line", func() bool { return strings.Contains(s.stderr.String(), " level=DEBUG ") })
	s.stop(t)
	log := s.stderr.String()
	for _, want := range []string{" level=INFO msg=request method=GET route=/login status=200 ", " level=DEBUG msg=\"overview refreshed\" "} {
		if !strings.Contains(log, want) {
			t.Errorf("the text log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, `{"`) {
		t.Errorf("a JSON line in a text log:\n%s", log)
	}

	// At warn, a request and serve's start say nothing.
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--no-demo-data", "--log-level", "warn"},
			env(), &stdout, io.MultiWriter(webtest.LogWriter(), &stderr))
	}()
	defer cancel()
	waitFor(t, 30*time.Second, "serve to print its address", func() bool { return runningAt.MatchString(stdout.String()) })
	credentials(stdout.String())
	resp, err = http.Get(runningAt.FindStringSubmatch(stdout.String())[1] + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d: %s", code, stderr.String())
	}
	if log := stderr.String(); strings.Contains(log, `"level":"INFO"`) || strings.Contains(log, `"level":"DEBUG"`) {
		t.Errorf("--log-level warn still logs info or debug:\n%s", log)
	}
}

// Unset, the sampler records about one request in ten that start a trace,
// and every request a trusted proxy's sampled trace carries; named, it is
// the one named.
func TestTracingSampler_DefaultSamplesATenthAndFollowsTheParent(t *testing.T) {
	share := func(s sdktrace.Sampler) float64 {
		rng := rand.New(rand.NewPCG(1, 2))
		sampled := 0
		const n = 20000
		for range n {
			var id trace.TraceID
			binary.BigEndian.PutUint64(id[:8], rng.Uint64())
			binary.BigEndian.PutUint64(id[8:], rng.Uint64())
			r := s.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: id, Name: "GET /users"})
			if r.Decision == sdktrace.RecordAndSample {
				sampled++
			}
		}
		return float64(sampled) / n
	}
	var unset tracingOptions
	if problem := unset.read(env("OTEL_TRACES_EXPORTER", "otlp")); problem != "" {
		t.Fatal(problem)
	}
	if got := share(unset.sampler); got < 0.09 || got > 0.11 {
		t.Errorf("unset sampler records %.3f of new traces, want about %.1f", got, defaultTraceRatio)
	}
	parent := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true}))
	r := unset.sampler.ShouldSample(sdktrace.SamplingParameters{ParentContext: parent, TraceID: trace.TraceID{1}, Name: "GET /users"})
	if r.Decision != sdktrace.RecordAndSample {
		t.Error("unset sampler drops a request whose trusted parent is sampled")
	}

	for name, want := range map[string]float64{"parentbased_always_on": 1, "always_off": 0, "parentbased_traceidratio": 1} {
		var o tracingOptions
		if problem := o.read(env("OTEL_TRACES_EXPORTER", "otlp", "OTEL_TRACES_SAMPLER", name)); problem != "" {
			t.Fatal(problem)
		}
		if got := share(o.sampler); got != want {
			t.Errorf("OTEL_TRACES_SAMPLER=%s records %.3f of new traces, want %.0f", name, got, want)
		}
	}
}
