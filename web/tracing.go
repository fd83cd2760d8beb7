package web

import (
	"context"
	"net"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"ledgerdesk/handlers/current"
)

// traceRequests gives each request a server span, named after its route
// pattern ("GET /users/:id"), never the path, which may carry ids or
// personal data; the statements the request runs become its children.
//
// A W3C traceparent header is a client's to write. From a trusted proxy
// it makes the request part of the proxy's trace, the proxy's sampling
// decision included, as X-Forwarded-For is believed only from one. From
// anyone else it is only linked to: the request starts a trace of its
// own, and the portal's sampler decides whether to record it. tracestate
// and baggage are never read.
func traceRequests(tp trace.TracerProvider, routes routeNames, trusted func(net.IP) bool) fiber.Handler {
	tracer := tp.Tracer("ledgerdesk/web")
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
		if remote := callerSpan(c); remote.IsValid() {
			if trusted(c.Context().RemoteIP()) {
				ctx = trace.ContextWithRemoteSpanContext(ctx, remote)
			} else {
				opts = append(opts, trace.WithNewRoot(), trace.WithLinks(trace.Link{SpanContext: remote}))
			}
		}
		// Fiber answers a method it does not know before any middleware,
		// so the method is one of HTTP's, not one a client made up.
		method := c.Method()
		ctx, span := tracer.Start(ctx, method, opts...)
		defer span.End()
		c.SetUserContext(ctx)

		err := c.Next()

		// accessLog, inside this, has had the error handler answer.
		status := c.Response().StatusCode()
		span.SetAttributes(
			semconv.HTTPRequestMethodKey.String(method),
			semconv.HTTPResponseStatusCode(status),
			semconv.URLScheme(c.Protocol()),
			attribute.String("ledgerdesk.request_id", current.RequestID(c)),
		)
		if route := routes.of(c); route != "" {
			span.SetName(method + " " + route)
			span.SetAttributes(semconv.HTTPRoute(route))
		}
		if status >= 500 {
			span.SetStatus(codes.Error, "")
		}
		return err
	}
}

// callerSpan is the span the request's traceparent names, if it names one
// validly; its tracestate is ignored.
func callerSpan(c *fiber.Ctx) trace.SpanContext {
	tp := c.Get("traceparent")
	if tp == "" {
		return trace.SpanContext{}
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), traceparentOnly(tp))
	return trace.SpanContextFromContext(ctx)
}

// traceparentOnly carries a traceparent header alone.
type traceparentOnly string

func (t traceparentOnly) Get(key string) string {
	if key == "traceparent" {
		return string(t)
	}
	return ""
}
func (traceparentOnly) Set(string, string) {}
func (traceparentOnly) Keys() []string     { return []string{"traceparent"} }
