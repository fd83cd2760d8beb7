package querytrace

import "context"

// requestContext is a context carrying the id of the request it serves:
// one allocation, where context.WithValue would take two (the value's
// copy in an interface, then the context).
type requestContext struct {
	context.Context
	id string
}

type requestIDKey struct{}

func (c *requestContext) Value(key any) any {
	if key == (requestIDKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// WithRequestID is ctx carrying the id of the request it serves, which a
// slow statement's log line names.
func WithRequestID(ctx context.Context, id string) context.Context {
	return &requestContext{Context: ctx, id: id}
}

// RequestID is the id WithRequestID put in ctx, or "".
func RequestID(ctx context.Context) string {
	if c, ok := ctx.Value(requestIDKey{}).(*requestContext); ok {
		return c.id
	}
	return ""
}
