// Package state holds the facts the protocol engines learned — leases,
// delegated prefixes, routers, link state — as one versioned set that the
// planner reads as a snapshot and that wakes it whenever something changes.
package state

import (
	"reflect"
	"sort"
	"sync"
)

// Store is the set of facts, keyed by where they come from
// ("wan/wan0/dhcp6"). Values are treated as immutable: publish a new value
// rather than changing one that was put.
type Store struct {
	mu      sync.Mutex
	version uint64
	facts   map[string]any
	subs    map[chan struct{}]struct{}
}

// New returns an empty store.
func New() *Store {
	return &Store{facts: map[string]any{}, subs: map[chan struct{}]struct{}{}}
}

// Put sets the fact at key. Publishing an equal value changes nothing and
// wakes nobody, so engines may publish on every packet.
func (s *Store) Put(key string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.facts[key]; ok && reflect.DeepEqual(old, v) {
		return
	}
	s.facts[key] = v
	s.changed()
}

// Delete removes the fact at key, if any.
func (s *Store) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.facts[key]; !ok {
		return
	}
	delete(s.facts, key)
	s.changed()
}

// DeletePrefix removes every fact whose key starts with prefix, such as all
// of an uplink's facts when it is removed from the configuration.
func (s *Store) DeletePrefix(prefix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k := range s.facts {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(s.facts, k)
			n++
		}
	}
	if n > 0 {
		s.changed()
	}
}

func (s *Store) changed() {
	s.version++
	for c := range s.subs {
		select {
		case c <- struct{}{}:
		default: // a wake-up is already pending: changes coalesce
		}
	}
}

// Subscribe returns a channel that receives a value after every change
// (several changes may coalesce into one wake-up), and a function that ends
// the subscription.
func (s *Store) Subscribe() (<-chan struct{}, func()) {
	c := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[c] = struct{}{}
	s.mu.Unlock()
	return c, func() {
		s.mu.Lock()
		delete(s.subs, c)
		s.mu.Unlock()
	}
}

// Version counts the changes so far: a snapshot taken at this version
// holds the facts as they still are.
func (s *Store) Version() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// Snapshot is a consistent view of the facts at one version.
type Snapshot struct {
	Version uint64
	facts   map[string]any
}

// Snapshot returns the current facts.
func (s *Store) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]any, len(s.facts))
	for k, v := range s.facts {
		m[k] = v
	}
	return Snapshot{Version: s.version, facts: m}
}

// Keys lists the keys present, sorted.
func (sn Snapshot) Keys() []string {
	keys := make([]string, 0, len(sn.facts))
	for k := range sn.facts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Get returns the fact at key when it exists and has type T.
func Get[T any](sn Snapshot, key string) (T, bool) {
	v, ok := sn.facts[key].(T)
	return v, ok
}

// With returns a snapshot with the fact at key set; for building planner
// inputs in tests without a Store.
func (sn Snapshot) With(key string, v any) Snapshot {
	m := make(map[string]any, len(sn.facts)+1)
	for k, old := range sn.facts {
		m[k] = old
	}
	m[key] = v
	return Snapshot{Version: sn.Version + 1, facts: m}
}
