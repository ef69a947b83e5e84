package lab

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// Main lets commands (the `make run` launcher, the benchmark) use the lab and
// the VM harness outside `go test`: it records cleanups and runs them, newest
// first, on Close or Fatalf.
type Main struct {
	name     string
	mu       sync.Mutex
	cleanups []func()
	tmp      []string
	failed   bool
}

// NewMain returns a Main that logs with the command's name.
func NewMain(name string) *Main { return &Main{name: name} }

func (m *Main) Helper()          {}
func (m *Main) Name() string     { return m.name }
func (m *Main) Failed() bool     { m.mu.Lock(); defer m.mu.Unlock(); return m.failed }
func (m *Main) Cleanup(f func()) { m.mu.Lock(); m.cleanups = append(m.cleanups, f); m.mu.Unlock() }

func (m *Main) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, m.name+": "+strings.TrimSuffix(format, "\n")+"\n", args...)
}

// Fatalf logs, cleans up and exits with status 1.
func (m *Main) Fatalf(format string, args ...any) {
	m.mu.Lock()
	m.failed = true
	m.mu.Unlock()
	m.Logf(format, args...)
	m.Close()
	os.Exit(1)
}

// Skipf is fatal for a command: there is no one to report a skip to.
func (m *Main) Skipf(format string, args ...any) { m.Fatalf(format, args...) }

// TempDir returns a new temporary directory removed at Close.
func (m *Main) TempDir() string {
	d, err := os.MkdirTemp("", m.name+"-")
	if err != nil {
		m.Fatalf("%v", err)
	}
	m.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// Close runs the cleanups, newest first; it is safe to call twice.
func (m *Main) Close() {
	for {
		m.mu.Lock()
		n := len(m.cleanups)
		if n == 0 {
			m.mu.Unlock()
			return
		}
		f := m.cleanups[n-1]
		m.cleanups = m.cleanups[:n-1]
		m.mu.Unlock()
		f()
	}
}
