package daemon

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cpe/cpe/config"
	"cpe/cpe/supervisor"
)

// testClock is a wall clock that a test can move forward.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

type harness struct {
	t     *testing.T
	d     *Daemon
	clk   *testClock
	mu    sync.Mutex
	names []string // hostnames applied, in order
}

func start(t *testing.T, dir string) *harness { return startWith(t, dir, nil) }

// startWith starts a daemon whose options edit may change first.
func startWith(t *testing.T, dir string, edit func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, clk: &testClock{}}
	opts := Options{
		StateDir: dir,
		Now:      h.clk.now,
		SetHostname: func(name string) error {
			h.mu.Lock()
			h.names = append(h.names, name)
			h.mu.Unlock()
			return nil
		},
	}
	if edit != nil {
		edit(&opts)
	}
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	h.waitHostname("cpe")
	return h
}

func (h *harness) hostname() string {
	s, _ := h.d.hostname.Load().(string)
	return s
}

func (h *harness) waitHostname(want string) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.hostname() != want {
		if time.Now().After(deadline) {
			h.t.Fatalf("hostname %q, want %q", h.hostname(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) status(name string) supervisor.Status {
	for _, s := range h.d.sup.Status() {
		if s.Name == name {
			return s
		}
	}
	h.t.Fatalf("no component %q", name)
	return supervisor.Status{}
}

func (h *harness) set(path, value string) []byte {
	h.t.Helper()
	doc, err := config.Set(h.d.store.Running().Config, strings.Fields(path), value)
	if err != nil {
		h.t.Fatal(err)
	}
	return doc
}

func TestCommitRestartsOnlyWhatChanged(t *testing.T) {
	h := start(t, t.TempDir())
	timerSince := h.status("commit-timer").Since
	if _, err := h.d.commit(h.set("system hostname", "r1"), "rename", 0); err != nil {
		t.Fatal(err)
	}
	h.waitHostname("r1")
	if s := h.status("commit-timer"); !s.Since.Equal(timerSince) || s.Restarts != 0 {
		t.Errorf("commit-timer was restarted by a hostname change: %+v", s)
	}
	// A change elsewhere in the config leaves the system component alone.
	sysSince := h.status("system").Since
	if _, err := h.d.commit(h.set("wan 0 dhcp6 prefix_hint", "60"), "hint", 0); err != nil {
		t.Fatal(err)
	}
	if s := h.status("system"); !s.Since.Equal(sysSince) {
		t.Errorf("system component restarted by a WAN change: since %v, was %v", s.Since, sysSince)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if got := strings.Join(h.names, ","); got != "cpe,r1" {
		t.Errorf("hostnames applied: %s, want cpe,r1", got)
	}
}

func TestInvalidCommitChangesNothing(t *testing.T) {
	h := start(t, t.TempDir())
	before := h.d.store.Running()
	doc, err := config.Delete(before.Config, []string{"wan", "0", "dhcp4"})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ = config.Delete(doc, []string{"wan", "0", "dhcp6"})
	doc, _ = config.Delete(doc, []string{"wan", "0", "ra"})
	if _, err := h.d.commit(doc, "broken", 0); err == nil || !strings.Contains(err.Error(), "wan[0]") {
		t.Fatalf("commit of an uplink with no protocol: err %v, want one naming wan[0]", err)
	}
	if after := h.d.store.Running(); after.Seq != before.Seq {
		t.Errorf("running revision moved from %d to %d", before.Seq, after.Seq)
	}
}

func TestCommitConfirmedRollsBack(t *testing.T) {
	h := start(t, t.TempDir())
	if _, err := h.d.commit(h.set("system hostname", "trial"), "trial", time.Minute); err != nil {
		t.Fatal(err)
	}
	h.waitHostname("trial")
	h.clk.advance(59 * time.Second)
	h.d.wakeTimer()
	time.Sleep(50 * time.Millisecond)
	if h.hostname() != "trial" {
		t.Fatalf("rolled back before the deadline")
	}
	h.clk.advance(2 * time.Second)
	h.d.wakeTimer()
	h.waitHostname("cpe")
	if rev := h.d.store.Running(); !strings.Contains(rev.Comment, "rollback") {
		t.Errorf("running revision after the deadline: %q, want an automatic rollback", rev.Comment)
	}
}

// TestConfirmDeadlineSurvivesRestart: the deadline lives in the store, so a
// daemon started after the deadline (a reboot) comes up with the old config.
func TestConfirmDeadlineSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	h := start(t, dir)
	if _, err := h.d.commit(h.set("system hostname", "trial"), "trial", time.Minute); err != nil {
		t.Fatal(err)
	}
	st := h.d.store
	deadline, ok := st.Pending()
	if !ok {
		t.Fatal("no pending confirmation after commit confirmed")
	}

	clk := &testClock{}
	clk.advance(time.Until(deadline) + time.Second)
	d2, err := New(Options{StateDir: dir, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if d2.running.System.Hostname != "cpe" {
		t.Errorf("after a restart past the deadline the running hostname is %q, want cpe", d2.running.System.Hostname)
	}
}
