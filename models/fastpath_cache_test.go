package models

import (
	"strconv"
	"testing"
	"time"
)

func TestKeyedCacheKeepsOneValuePerKeyAndStaysBounded(t *testing.T) {
	var k keyedCache[int]
	loads := 0
	load := func(v int) func() (int, error) { return func() (int, error) { loads++; return v, nil } }
	if v, _ := k.entry("a").get(time.Minute, load(1)); v != 1 {
		t.Fatalf("a: %d", v)
	}
	if v, _ := k.entry("a").get(time.Minute, load(2)); v != 1 || loads != 1 {
		t.Errorf("a again: %d after %d loads, want the kept 1 after 1", v, loads)
	}
	if v, _ := k.entry("b").get(time.Minute, load(3)); v != 3 {
		t.Errorf("b: %d, want its own value", v)
	}
	if _, ok := k.entry("c").peek(time.Minute); ok {
		t.Error("c: peek found a value never loaded")
	}
	if v, ok := k.entry("b").peek(time.Minute); !ok || v != 3 {
		t.Errorf("b: peek %d %v", v, ok)
	}
	if _, ok := k.entry("b").peek(0); ok {
		t.Error("b: peek returned a value older than allowed")
	}
	for i := 0; i < 3*keyedCacheLimit; i++ {
		k.entry(strconv.Itoa(i))
	}
	if n := len(k.entries); n > keyedCacheLimit {
		t.Errorf("%d entries, limit %d", n, keyedCacheLimit)
	}
}
