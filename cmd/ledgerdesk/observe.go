package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// logOptions are serve's settings for its log.
type logOptions struct {
	level  slog.Level
	format string         // json or text
	slow   *time.Duration // the slow-query log's threshold; 0: off
}

func (o *logOptions) register(s *settings) {
	s.String("log-level", "LEDGERDESK_LOG_LEVEL", "info",
		"the least important `level` logged: debug, info, warn or error", func(v string) error {
			levels := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
			l, ok := levels[strings.ToLower(v)]
			if !ok {
				return errors.New("want debug, info, warn or error")
			}
			o.level = l
			return nil
		})
	s.StringVar(&o.format, "log-format", "LEDGERDESK_LOG_FORMAT", "json",
		"`format` of the log's lines: json (one object a line) or text (key=value)", func(v string) error {
			if v != "json" && v != "text" {
				return errors.New("want json or text")
			}
			return nil
		})
	o.slow = s.Duration("slow-query", "LEDGERDESK_SLOW_QUERY", 500*time.Millisecond, 0,
		"log each SQL statement that takes this long or longer, with its text but never its values; 0 turns it off")
}

// logger is the log the options describe, written to w.
func (o *logOptions) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: o.level}
	if o.format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// tracingOptions are the OpenTelemetry variables serve decides on; they
// are checked like its other settings. The SDK reads the others itself,
// from the process's environment: OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT,
// _COMPRESSION and _CERTIFICATE (and their _TRACES_ forms),
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and OTEL_BSP_*.
type tracingOptions struct {
	on       bool
	endpoint string // the traces endpoint's URL; "": the exporter's default
	sampler  sdktrace.Sampler
}

func (t *tracingOptions) register(s *settings) {
	s.check(func() string { return t.read(s.getenv) })
}

// read decides from the environment whether to trace and how; it returns
// what is wrong, or "". Tracing is off unless an exporter or an endpoint
// is named, and off whenever OTEL_SDK_DISABLED is true.
func (t *tracingOptions) read(getenv func(string) string) string {
	if v := getenv("OTEL_SDK_DISABLED"); v != "" {
		disabled, err := parseBool(v)
		if err != nil {
			return fmt.Sprintf("OTEL_SDK_DISABLED: %q: %v", v, err)
		}
		if disabled {
			return ""
		}
	}
	traces, base := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	switch v := getenv("OTEL_TRACES_EXPORTER"); v {
	case "otlp":
	case "none":
		return ""
	case "":
		if traces == "" && base == "" {
			return ""
		}
	default:
		return fmt.Sprintf("OTEL_TRACES_EXPORTER: %q: want otlp (OTLP over HTTP) or none", v)
	}
	t.on = true

	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := getenv(name); v != "" {
			if v != "http/protobuf" {
				return fmt.Sprintf("%s: %q: want http/protobuf, the only protocol the portal sends traces with", name, v)
			}
			break
		}
	}
	switch {
	case traces != "":
		if problem := checkOTLPEndpoint(traces); problem != "" {
			return "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: " + problem
		}
		t.endpoint = traces
	case base != "":
		if problem := checkOTLPEndpoint(base); problem != "" {
			return "OTEL_EXPORTER_OTLP_ENDPOINT: " + problem
		}
		// The base URL's signal path, as the specification joins them.
		t.endpoint = strings.TrimSuffix(base, "/") + "/v1/traces"
	}

	var problem string
	t.sampler, problem = samplerFrom(getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG"))
	return problem
}

// checkOTLPEndpoint says what is wrong with a collector's URL, without
// repeating it: credentials belong in OTEL_EXPORTER_OTLP_HEADERS, and
// the exporter's error messages quote the URL.
func checkOTLPEndpoint(v string) string {
	u, err := url.Parse(v)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "":
		return "want the collector's http:// or https:// URL, e.g. http://127.0.0.1:4318"
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "want a URL without credentials, query or fragment: send credentials in OTEL_EXPORTER_OTLP_HEADERS"
	}
	return ""
}

// defaultTraceRatio is the share of requests traced when
// OTEL_TRACES_SAMPLER is unset. Recording every request costs the users
// pages 15-28 % more CPU (a span per statement, batched and sent), one in
// ten costs nothing measurable (docs/performance.md), so the portal
// samples unless told otherwise. A trusted proxy's decision still holds.
const defaultTraceRatio = 0.1

// samplerFrom is the sampler OTEL_TRACES_SAMPLER names, with
// OTEL_TRACES_SAMPLER_ARG as its ratio (1 when unset, as the
// specification says). Unset, it is parentbased_traceidratio at
// defaultTraceRatio, not the specification's parentbased_always_on.
func samplerFrom(name, arg string) (sdktrace.Sampler, string) {
	ratio := 1.0
	if strings.HasSuffix(name, "traceidratio") && arg != "" {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Sprintf("OTEL_TRACES_SAMPLER_ARG: %q: want a ratio from 0 to 1, e.g. 0.25", arg)
		}
		ratio = r
	}
	switch name {
	case "":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(defaultTraceRatio)), ""
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), ""
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), ""
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), ""
	case "always_on":
		return sdktrace.AlwaysSample(), ""
	case "always_off":
		return sdktrace.NeverSample(), ""
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), ""
	}
	return nil, fmt.Sprintf("OTEL_TRACES_SAMPLER: %q: want always_on, always_off, traceidratio, "+
		"parentbased_always_on, parentbased_always_off or parentbased_traceidratio", name)
}

// start builds the tracer provider the options describe, exporting
// batches over OTLP/HTTP; nil when tracing is off. stop flushes what is
// left.
func (t *tracingOptions) start(ctx context.Context, log *slog.Logger) (tp trace.TracerProvider, stop func(), err error) {
	if !t.on {
		return nil, func() {}, nil
	}
	var opts []otlptracehttp.Option
	if t.endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(t.endpoint))
	}
	exporter, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: %w", err)
	}
	res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName("ledgerdesk")),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES: keep what could be read.
		log.Warn("tracing: resource attributes not all read", "error", err.Error())
	}
	// Export failures (a collector down) reach the log, not stderr bare.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing", "error", err.Error()) }))
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res), sdktrace.WithSampler(t.sampler))
	endpoint := t.endpoint
	if endpoint == "" {
		endpoint = "http://localhost:4318/v1/traces"
	}
	log.Info("tracing on", "endpoint", endpoint, "sampler", t.sampler.Description())
	return provider, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := provider.Shutdown(ctx); err != nil {
			log.Warn("tracing: spans not all sent at shutdown", "error", err.Error())
		}
	}, nil
}
