package models

import (
	"sync"
	"time"
)

// Part of the fast path (fastpath.go): what the pages read often and
// changes rarely is kept, not asked for again.

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
// loading or waiting for a load. A nil cache holds nothing.
func (c *cached[T]) peek(maxAge time.Duration) (T, bool) {
	if c == nil || !c.mu.TryLock() {
		var zero T
		return zero, false
	}
	defer c.mu.Unlock()
	return c.value, c.loaded && time.Since(c.at) < maxAge
}

// keyedCache is a cached value per key. Keys may come from a URL, so past
// keyedCacheLimit of them it starts afresh rather than grow.
type keyedCache[T any] struct {
	mu      sync.Mutex
	entries map[string]*cached[T]
}

const keyedCacheLimit = 1000

func (k *keyedCache[T]) entry(key string) *cached[T] {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.entries[key]
	if e == nil {
		if k.entries == nil || len(k.entries) >= keyedCacheLimit {
			k.entries = map[string]*cached[T]{}
		}
		e = &cached[T]{}
		k.entries[key] = e
	}
	return e
}
