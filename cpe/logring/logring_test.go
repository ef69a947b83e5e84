package logring

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

func TestRingKeepsNewest(t *testing.T) {
	r := New(3)
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(r, "line %d\n", i)
	}
	if got, want := r.Lines(0), []string{"line 3", "line 4", "line 5"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Lines = %q, want %q", got, want)
	}
	if got := r.Lines(2); !reflect.DeepEqual(got, []string{"line 4", "line 5"}) {
		t.Fatalf("Lines(2) = %q", got)
	}
	if r.Dropped() != 2 {
		t.Fatalf("Dropped = %d, want 2", r.Dropped())
	}
}

func TestRingPartialAndMultiLineWrites(t *testing.T) {
	r := New(10)
	r.Write([]byte("a\nb"))
	r.Write([]byte("c\n\nd\n"))
	if got, want := r.Lines(0), []string{"a", "bc", "", "d"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Lines = %q, want %q", got, want)
	}
}

func TestRingBoundsLongLines(t *testing.T) {
	r := New(2)
	r.Write([]byte(strings.Repeat("x", 5000)))
	r.Write([]byte("\n"))
	for _, l := range r.Lines(0) {
		if len(l) > maxLine+len("…") {
			t.Fatalf("stored line of %d bytes, limit %d", len(l), maxLine)
		}
	}
}

func TestRingUnderSlog(t *testing.T) {
	r := New(10)
	log := slog.New(slog.NewTextHandler(r, nil))
	log.Info("hello", "component", "test")
	var b strings.Builder
	r.WriteTo(&b)
	if !strings.Contains(b.String(), "msg=hello component=test") {
		t.Fatalf("ring holds %q", b.String())
	}
}
