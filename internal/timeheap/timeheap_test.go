package timeheap

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

type item struct {
	at  time.Time
	idx int
}

func (x *item) Deadline() time.Time { return x.at }
func (x *item) HeapIndex() *int     { return &x.idx }

var t0 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// check verifies the heap order and that every entry knows its index.
func check(t *testing.T, h Heap[*item]) {
	t.Helper()
	for i, x := range h {
		if x.idx != i {
			t.Fatalf("entry %d thinks it is at %d", i, x.idx)
		}
		if i > 0 && x.at.Before(h[(i-1)/2].at) {
			t.Fatalf("entry %d is earlier than its parent", i)
		}
	}
}

func TestRandomOperations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Heap[*item]
	var all []*item
	for step := range 5000 {
		switch op := r.IntN(4); {
		case op == 0 || len(all) == 0:
			x := &item{at: t0.Add(time.Duration(r.IntN(1000)) * time.Second), idx: -1}
			all = append(all, x)
			h.Set(x)
		case op == 1:
			x := all[r.IntN(len(all))]
			x.at = t0.Add(time.Duration(r.IntN(1000)) * time.Second)
			h.Set(x)
		case op == 2:
			x := all[r.IntN(len(all))]
			h.Remove(x)
			h.Remove(x) // twice is harmless
			all = slices.DeleteFunc(all, func(y *item) bool { return y == x })
			if x.idx != -1 {
				t.Fatalf("step %d: removed entry keeps index %d", step, x.idx)
			}
		default:
			if len(h) > 0 {
				earliest := slices.MinFunc(all, func(a, b *item) int { return a.at.Compare(b.at) })
				if !h[0].at.Equal(earliest.at) {
					t.Fatalf("step %d: top %v, earliest %v", step, h[0].at, earliest.at)
				}
			}
		}
		if len(h) != len(all) {
			t.Fatalf("step %d: %d in the heap, %d live", step, len(h), len(all))
		}
		check(t, h)
	}
}
