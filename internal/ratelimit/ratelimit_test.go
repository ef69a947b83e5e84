package ratelimit

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func TestBucket(t *testing.T) {
	l := New(2, 3)
	n := 0
	for range 10 {
		if l.Allow("a", t0) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("burst: %d allowed, want 3", n)
	}
	if !l.Allow("b", t0) {
		t.Error("another client starved by the first")
	}
	n = 0
	for range 10 {
		if l.Allow("a", t0.Add(time.Second)) {
			n++
		}
	}
	if n != 2 {
		t.Errorf("after 1 s at 2/s: %d allowed, want 2", n)
	}
}

func TestBounded(t *testing.T) {
	l := New(1, 1)
	l.max = 100
	for i := range 10000 {
		l.Allow(string(rune(i)), t0)
		if len(l.m) > l.max {
			t.Fatalf("table grew to %d", len(l.m))
		}
	}
}

func TestEvery(t *testing.T) {
	var e Every
	for i, c := range []struct {
		at   time.Duration
		want bool
	}{{0, true}, {time.Second, false}, {10 * time.Second, true}, {15 * time.Second, false}, {20 * time.Second, true}} {
		if got := e.Allow(t0.Add(c.at), 10*time.Second); got != c.want {
			t.Errorf("event %d at %v: %v, want %v", i, c.at, got, c.want)
		}
	}
}
