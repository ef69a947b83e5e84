// Package timeheap orders things by a deadline: the earliest is at index
// 0, and an entry is added, moved after its deadline changed, or removed
// in O(log n). The lease tables of the LAN servers use it to reclaim what
// expired without scanning.
package timeheap

import "time"

// Entry is kept in a Heap. HeapIndex points at where the entry keeps its
// position, -1 when it is in no heap; the Heap maintains it.
type Entry interface {
	Deadline() time.Time
	HeapIndex() *int
}

// Heap is a binary min-heap by Deadline. Index it (h[0]) to peek.
type Heap[T Entry] []T

func (h Heap[T]) less(i, j int) bool { return h[i].Deadline().Before(h[j].Deadline()) }

func (h Heap[T]) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	*h[i].HeapIndex(), *h[j].HeapIndex() = i, j
}

func (h Heap[T]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h Heap[T]) down(i int) bool {
	start, n := i, len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			break
		}
		h.swap(i, m)
		i = m
	}
	return i > start
}

// Set puts x in the heap, or moves it after its deadline changed.
func (h *Heap[T]) Set(x T) {
	i := x.HeapIndex()
	if *i < 0 {
		*i = len(*h)
		*h = append(*h, x)
		h.up(*i)
		return
	}
	if !h.down(*i) {
		h.up(*i)
	}
}

// Remove takes x out of the heap; nothing happens when it is not in.
func (h *Heap[T]) Remove(x T) {
	i := *x.HeapIndex()
	if i < 0 {
		return
	}
	last := len(*h) - 1
	if i != last {
		h.swap(i, last)
	}
	var zero T
	(*h)[last] = zero
	*h = (*h)[:last]
	*x.HeapIndex() = -1
	if i != last && !h.down(i) {
		h.up(i)
	}
}
