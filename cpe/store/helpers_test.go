package store

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cpe/internal/clock"
)

var t0 = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// newClock is the wall clock the tests move by hand.
func newClock() *clock.Fake { return clock.NewFake(t0) }

// doc returns a small config document that differs by name.
func doc(name string) []byte {
	return fmt.Appendf(nil, "{\n  \"system\": {\n    \"hostname\": %q\n  }\n}\n", name)
}

var factory = doc("factory")

func mustOpen(t *testing.T, dir string, c *clock.Fake) *Store {
	t.Helper()
	s, err := Open(dir, c.Now, factory)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func mustCommit(t *testing.T, s *Store, d []byte, comment string, within time.Duration) Revision {
	t.Helper()
	r, err := s.Commit(d, comment, within)
	if err != nil {
		t.Fatalf("Commit(%q): %v", comment, err)
	}
	return r
}

// dirFiles lists the names in the store's config directory.
func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "config"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, n := range dirFiles(t, dir) {
		if isTempName(n) {
			out = append(out, n)
		}
	}
	return out
}

func revPath(dir string, seq int) string { return filepath.Join(dir, "config", revName(seq)) }

func hasWarning(ws []error, substr string) bool {
	return slices.ContainsFunc(ws, func(err error) bool { return strings.Contains(err.Error(), substr) })
}

// quickFS is the real filesystem without the fsyncs, for the many stores the
// crash tests set up: only the operation under test needs the crash model,
// and real fsyncs would make the enumeration take half a minute.
type quickFS struct{ osFS }

func (quickFS) CreateTemp(dir, pattern string) (tempFile, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return quickFile{f}, nil
}

func (quickFS) SyncDir(string) error { return nil }

type quickFile struct{ *os.File }

func (quickFile) Sync() error { return nil }

func openQuick(t *testing.T, dir string, c *clock.Fake) *Store {
	t.Helper()
	s, err := openFS(quickFS{}, dir, c.Now, factory)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}
