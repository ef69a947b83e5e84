package dhcp4

import "math/bits"

// freeSet holds the free offsets of the pool: a bitmap with summary levels
// above it (a bit per non-empty word of the level below), so that adding,
// removing and finding the lowest free offset all take O(log64 n) — three
// word operations for a /16 — and a /8 pool costs 2 MiB.
type freeSet struct {
	levels [][]uint64 // levels[0] is the bitmap itself; the last has one word
	count  int
}

func newFreeSet(n int) *freeSet {
	s := &freeSet{}
	for size := max(n, 1); ; {
		words := (size + 63) / 64
		s.levels = append(s.levels, make([]uint64, words))
		if words == 1 {
			return s
		}
		size = words
	}
}

// fill makes offsets 0..n-1 free, all at once.
func (s *freeSet) fill(n int) {
	for i := range s.levels[0] {
		s.levels[0][i] = ^uint64(0)
	}
	if r := n & 63; r != 0 {
		s.levels[0][len(s.levels[0])-1] = 1<<r - 1
	}
	for l := 1; l < len(s.levels); l++ {
		clear(s.levels[l])
		for w, v := range s.levels[l-1] {
			if v != 0 {
				s.levels[l][w>>6] |= 1 << (w & 63)
			}
		}
	}
	s.count = n
}

func (s *freeSet) has(i int) bool { return s.levels[0][i>>6]&(1<<(i&63)) != 0 }

func (s *freeSet) add(i int) {
	if s.has(i) {
		return
	}
	s.count++
	for _, l := range s.levels {
		w := i >> 6
		was := l[w]
		l[w] |= 1 << (i & 63)
		if was != 0 {
			return // the levels above already know this word is not empty
		}
		i = w
	}
}

func (s *freeSet) remove(i int) {
	if !s.has(i) {
		return
	}
	s.count--
	for _, l := range s.levels {
		w := i >> 6
		l[w] &^= 1 << (i & 63)
		if l[w] != 0 {
			return
		}
		i = w
	}
}

// min returns the lowest free offset.
func (s *freeSet) min() (int, bool) {
	top := len(s.levels) - 1
	if s.levels[top][0] == 0 {
		return 0, false
	}
	i := 0
	for l := top; l >= 0; l-- {
		i = i<<6 + bits.TrailingZeros64(s.levels[l][i])
	}
	return i, true
}
