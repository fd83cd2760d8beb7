package models

import (
	"sync"
	"time"
)

// cached keeps a value that changes rarely, loading it again once it is
// older than the caller allows. Concurrent callers wait for one load.
type cached[T any] struct {
	mu     sync.Mutex
	value  T
	at     time.Time
	loaded bool
}

func (c *cached[T]) get(maxAge time.Duration, load func() (T, error)) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded && time.Since(c.at) < maxAge {
		return c.value, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	c.value, c.at, c.loaded = v, time.Now(), true
	return v, nil
}

// peek returns the value if one younger than maxAge is loaded, without
// loading or waiting for a load.
func (c *cached[T]) peek(maxAge time.Duration) (T, bool) {
	if !c.mu.TryLock() {
		var zero T
		return zero, false
	}
	defer c.mu.Unlock()
	return c.value, c.loaded && time.Since(c.at) < maxAge
}
