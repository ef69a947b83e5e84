package store

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"cpe/internal/clock"
)

var (
	errPowerLost = errors.New("power lost")
	errInjected  = errors.New("injected I/O error")
)

// crashFS is the real filesystem with a power switch. Before each operation
// that changes the disk it asks fail whether to cut the power there: the
// operation is not done, and neither is anything after it, so no error
// path gets to clean up. reboot then decides what the disk remembers.
// With failOnly, fail injects one I/O error instead and the power stays on.
type crashFS struct {
	osFS
	fail     func(op string, n int) bool
	failOnly bool

	mu      sync.Mutex
	n       int
	crashed bool
	log     []string
	// dirUndo holds, per directory, how to undo the creates, renames and
	// removes made since that directory's last fsync; ext4 may forget them.
	dirUndo map[string][]func()
	// unsynced holds the files whose data was written but not fsynced.
	unsynced map[string]bool
}

func newCrashFS(fail func(op string, n int) bool) *crashFS {
	return &crashFS{fail: fail, dirUndo: map[string][]func(){}, unsynced: map[string]bool{}}
}

// crashAt cuts the power before the n-th operation.
func crashAt(n int) *crashFS {
	return newCrashFS(func(_ string, i int) bool { return i == n })
}

// crashBefore cuts the power before the first operation of kind op.
func crashBefore(op string) *crashFS {
	return newCrashFS(func(o string, _ int) bool { return o == op })
}

// begin accounts for one operation and says whether to go ahead.
func (c *crashFS) begin(op, path string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crashed {
		return errPowerLost
	}
	c.n++
	if c.fail(op, c.n) {
		if c.failOnly {
			c.log = append(c.log, fmt.Sprintf("%d %s %s: I/O error", c.n, op, filepath.Base(path)))
			return errInjected
		}
		c.crashed = true
		c.log = append(c.log, fmt.Sprintf("%d %s %s: power lost", c.n, op, filepath.Base(path)))
		return errPowerLost
	}
	c.log = append(c.log, fmt.Sprintf("%d %s %s", c.n, op, filepath.Base(path)))
	return nil
}

func (c *crashFS) read() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crashed {
		return errPowerLost
	}
	return nil
}

func (c *crashFS) pushUndo(dir string, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dirUndo[dir] = append(c.dirUndo[dir], f)
}

func (c *crashFS) setUnsynced(path string, v bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v {
		c.unsynced[path] = true
	} else {
		delete(c.unsynced, path)
	}
}

func (c *crashFS) moveUnsynced(from, to string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.unsynced, to)
	if c.unsynced[from] {
		delete(c.unsynced, from)
		c.unsynced[to] = true
	}
}

func (c *crashFS) MkdirAll(path string, perm os.FileMode) error {
	if err := c.begin("mkdir", path); err != nil {
		return err
	}
	return os.MkdirAll(path, perm)
}

func (c *crashFS) ReadDir(dir string) ([]os.DirEntry, error) {
	if err := c.read(); err != nil {
		return nil, err
	}
	return os.ReadDir(dir)
}

func (c *crashFS) ReadFile(name string) ([]byte, error) {
	if err := c.read(); err != nil {
		return nil, err
	}
	return os.ReadFile(name)
}

func (c *crashFS) CreateTemp(dir, pattern string) (tempFile, error) {
	if err := c.begin("create", filepath.Join(dir, pattern)); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	name := f.Name()
	c.pushUndo(dir, func() { os.Remove(name) })
	return &crashFile{File: f, c: c}, nil
}

func (c *crashFS) Rename(oldpath, newpath string) error {
	if err := c.begin("rename", newpath); err != nil {
		return err
	}
	prev, prevErr := os.ReadFile(newpath)
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	c.moveUnsynced(oldpath, newpath)
	c.pushUndo(filepath.Dir(newpath), func() {
		os.Rename(newpath, oldpath)
		c.moveUnsynced(newpath, oldpath)
		if prevErr == nil {
			os.WriteFile(newpath, prev, 0o600)
		}
	})
	return nil
}

func (c *crashFS) Remove(name string) error {
	if err := c.begin("remove", name); err != nil {
		return err
	}
	prev, prevErr := os.ReadFile(name)
	if err := os.Remove(name); err != nil {
		return err
	}
	if prevErr == nil {
		c.pushUndo(filepath.Dir(name), func() { os.WriteFile(name, prev, 0o600) })
	}
	return nil
}

func (c *crashFS) SyncDir(dir string) error {
	if err := c.begin("syncdir", dir); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.dirUndo, dir)
	return nil
}

type crashFile struct {
	*os.File
	c *crashFS
}

func (f *crashFile) Chmod(perm os.FileMode) error {
	if err := f.c.begin("chmod", f.Name()); err != nil {
		return err
	}
	return f.File.Chmod(perm)
}

func (f *crashFile) Write(p []byte) (int, error) {
	if err := f.c.begin("write", f.Name()); err != nil {
		return 0, err
	}
	f.c.setUnsynced(f.Name(), true)
	return f.File.Write(p)
}

func (f *crashFile) Sync() error {
	if err := f.c.begin("fsync", f.Name()); err != nil {
		return err
	}
	f.c.setUnsynced(f.Name(), false)
	return nil
}

func (f *crashFile) Close() error {
	// After a crash the descriptor is gone with the process; close it for
	// real so the test does not leak it, but report the power cut.
	if err := f.c.begin("close", f.Name()); err != nil {
		f.File.Close()
		return err
	}
	return f.File.Close()
}

// What the disk remembers after the power cut.
type loss int

const (
	keepAll  loss = iota // everything done before the cut reached the disk
	loseData             // data not fsynced is gone (ext4 delayed allocation)
	loseAll              // and so are directory changes not fsynced
)

func (l loss) String() string { return [...]string{"keep all", "lose data", "lose all"}[l] }

func (c *crashFS) reboot(l loss) {
	c.mu.Lock()
	undo := c.dirUndo
	c.dirUndo = map[string][]func(){}
	c.mu.Unlock()
	if l == loseAll {
		for _, fs := range undo {
			for i := len(fs) - 1; i >= 0; i-- {
				fs[i]()
			}
		}
	}
	if l >= loseData {
		c.mu.Lock()
		defer c.mu.Unlock()
		for path := range c.unsynced {
			if _, err := os.Stat(path); err == nil {
				os.Truncate(path, 0)
			}
		}
	}
}

// observation is what a store shows after a reboot: the running config,
// the pending deadline and where an expiry would take it.
type observation struct {
	running  string
	deadline time.Time
	rollback string // running config after Expire far in the future
}

func (o observation) String() string {
	return fmt.Sprintf("running %q, deadline %v, rollback to %q", o.running, o.deadline, o.rollback)
}

// observe reopens dir the way a boot does and reports what it finds. It
// fails the test on anything a crash must never leave: corrupt revision
// files, temp files surviving Open, a next commit reusing a number.
func observe(t *testing.T, dir string, c *clock.Fake) observation {
	t.Helper()
	maxSeq := 0
	for _, n := range dirFiles(t, dir) {
		if seq, ok := parseRevName(n); ok {
			maxSeq = max(maxSeq, seq)
		}
	}
	s := openQuick(t, dir, c)
	for _, w := range s.Warnings() {
		if errors.Is(w, ErrCorrupt) {
			t.Errorf("crash left a corrupt revision: %v", w)
		}
	}
	if tmp := tempFiles(t, dir); len(tmp) != 0 {
		t.Errorf("Open left temp files: %v", tmp)
	}
	var o observation
	o.running = string(s.Running().Config)
	o.deadline, _ = s.Pending()
	later := clock.NewFake(c.Now().Add(1000 * time.Hour))
	s2 := openQuick(t, dir, later)
	if _, rev, err := s2.Expire(); err != nil {
		t.Fatalf("Expire after crash: %v", err)
	} else {
		o.rollback = string(rev.Config)
	}
	r, err := s2.Commit(doc("after"), "", 0)
	if err != nil {
		t.Fatalf("Commit after crash: %v", err)
	}
	if r.Seq <= maxSeq {
		t.Errorf("commit after crash got seq %d, files go up to %d", r.Seq, maxSeq)
	}
	return o
}

type crashScenario struct {
	name  string
	setup func(t *testing.T, s *Store, c *clock.Fake)
	op    func(s *Store) error
}

var crashScenarios = []crashScenario{
	{
		name:  "commit",
		setup: func(t *testing.T, s *Store, c *clock.Fake) { mustCommit(t, s, doc("a"), "", 0) },
		op:    func(s *Store) error { _, err := s.Commit(doc("b"), "b", 0); return err },
	},
	{
		name:  "commit confirmed",
		setup: func(t *testing.T, s *Store, c *clock.Fake) { mustCommit(t, s, doc("a"), "", 0) },
		op:    func(s *Store) error { _, err := s.Commit(doc("b"), "b", 10*time.Minute); return err },
	},
	{
		name: "plain commit confirming a pending one",
		setup: func(t *testing.T, s *Store, c *clock.Fake) {
			mustCommit(t, s, doc("a"), "", 0)
			mustCommit(t, s, doc("b"), "", 10*time.Minute)
			c.Advance(time.Minute)
		},
		op: func(s *Store) error { _, err := s.Commit(doc("c"), "c", 0); return err },
	},
	{
		name: "commit confirmed while one is pending",
		setup: func(t *testing.T, s *Store, c *clock.Fake) {
			mustCommit(t, s, doc("a"), "", 0)
			mustCommit(t, s, doc("b"), "", 10*time.Minute)
			c.Advance(time.Minute)
		},
		op: func(s *Store) error { _, err := s.Commit(doc("c"), "c", 30*time.Minute); return err },
	},
	{
		name: "confirm",
		setup: func(t *testing.T, s *Store, c *clock.Fake) {
			mustCommit(t, s, doc("a"), "", 0)
			mustCommit(t, s, doc("b"), "", 10*time.Minute)
		},
		op: func(s *Store) error { return s.Confirm() },
	},
	{
		name: "expire",
		setup: func(t *testing.T, s *Store, c *clock.Fake) {
			mustCommit(t, s, doc("a"), "", 0)
			mustCommit(t, s, doc("b"), "", 10*time.Minute)
			c.Advance(time.Hour)
		},
		op: func(s *Store) error {
			rolled, _, err := s.Expire()
			if err == nil && !rolled {
				err = errors.New("did not roll back")
			}
			return err
		},
	},
	{
		name: "commit that prunes",
		setup: func(t *testing.T, s *Store, c *clock.Fake) {
			for i := range Keep + 3 {
				mustCommit(t, s, doc(fmt.Sprint(i)), "", 0)
			}
			mustCommit(t, s, doc("a"), "", 10*time.Minute)
		},
		op: func(s *Store) error { _, err := s.Commit(doc("b"), "b", 0); return err },
	},
	{
		name: "rollback that prunes",
		setup: func(t *testing.T, s *Store, c *clock.Fake) {
			mustCommit(t, s, doc("a"), "", 0)
			for i := range Keep + 3 {
				mustCommit(t, s, doc(fmt.Sprint(i)), "", 10*time.Minute)
			}
			c.Advance(time.Hour)
		},
		op: func(s *Store) error { _, _, err := s.Expire(); return err },
	},
}

// reference runs a scenario without crashing and observes the states
// before and after its operation.
func reference(t *testing.T, sc crashScenario) (before, after observation) {
	t.Helper()
	for i, withOp := range []bool{false, true} {
		dir, c := t.TempDir(), newClock()
		s := openQuick(t, dir, c)
		sc.setup(t, s, c)
		if withOp {
			if err := sc.op(s); err != nil {
				t.Fatalf("%s without a crash: %v", sc.name, err)
			}
		}
		o := observe(t, dir, c)
		if i == 0 {
			before = o
		} else {
			after = o
		}
	}
	if before == after {
		t.Fatalf("%s: the operation changes nothing observable: %v", sc.name, before)
	}
	return before, after
}

// TestCrashAnywhere cuts the power before every single disk operation of
// each store operation, under each loss model, and checks that the box
// boots into either the state before the operation or the one after it,
// with the same pending deadline and rollback target as that state.
func TestCrashAnywhere(t *testing.T) {
	for _, sc := range crashScenarios {
		t.Run(sc.name, func(t *testing.T) {
			before, after := reference(t, sc)
			for _, l := range []loss{keepAll, loseData, loseAll} {
				saw := map[string]int{}
				for n := 1; ; n++ {
					dir, c := t.TempDir(), newClock()
					s := openQuick(t, dir, c)
					sc.setup(t, s, c)
					cfs := crashAt(n)
					s.fs = cfs
					err := sc.op(s)
					if !cfs.crashed {
						if err != nil {
							t.Fatalf("%v: no crash but %v", l, err)
						}
						// Returning is a promise: the power may go right
						// after it.
						cfs.reboot(l)
						if got := observe(t, dir, c); got != after {
							t.Errorf("%v, power lost after the operation returned: %v\nwant %v", l, got, after)
						}
						// Without losses some crash point must fall after
						// the commit point, or the enumeration missed it.
						if l == keepAll && (saw["before"] == 0 || saw["after"] == 0) {
							t.Errorf("%v: the crash points only ever gave one outcome: %v", l, saw)
						}
						t.Logf("%v: %d crash points: %v", l, n-1, saw)
						break
					}
					// Pruning after the commit point is best effort: a
					// crash there is no error. But what returned success
					// must survive the crash.
					durable := err == nil
					if err != nil && !errors.Is(err, errPowerLost) {
						t.Errorf("%v, crash at op %d: error %v does not say so", l, n, err)
					}
					cfs.reboot(l)
					switch got := observe(t, dir, c); {
					case got == before && !durable:
						saw["before"]++
					case got == after:
						saw["after"]++
					default:
						t.Errorf("%v, crash at op %d: booted into %v\nwant %v\n  or %v\nops: %v", l, n, got, before, after, cfs.log)
					}
				}
			}
		})
	}
}

// The two crash points named in the design, checked by hand.
func TestCrashBetweenWriteAndRename(t *testing.T) {
	dir, c := t.TempDir(), newClock()
	s := mustOpen(t, dir, c)
	mustCommit(t, s, doc("a"), "", 0)
	s.fs = crashBefore("rename")
	if _, err := s.Commit(doc("b"), "", 0); !errors.Is(err, errPowerLost) {
		t.Fatalf("Commit = %v", err)
	}
	tmp := tempFiles(t, dir)
	if len(tmp) != 1 {
		t.Fatalf("temp files after the crash: %v, want one", tmp)
	}
	if _, err := os.Stat(revPath(dir, 3)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("target exists before the rename: %v", err)
	}
	s = mustOpen(t, dir, c)
	if r := s.Running(); r.Seq != 2 || !bytes.Equal(r.Config, doc("a")) {
		t.Errorf("running after reboot: seq %d %q", r.Seq, r.Config)
	}
	if !hasWarning(s.Warnings(), tmp[0]) {
		t.Errorf("Warnings() = %v, want one naming %s", s.Warnings(), tmp[0])
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("Open left %v", left)
	}
}

func TestCrashBetweenRenameAndDirSync(t *testing.T) {
	for _, tt := range []struct {
		loss loss
		want string
	}{
		{keepAll, "b"}, // the rename reached the disk
		{loseAll, "a"}, // it did not; the synced temp file is back
	} {
		t.Run(tt.loss.String(), func(t *testing.T) {
			dir, c := t.TempDir(), newClock()
			s := mustOpen(t, dir, c)
			mustCommit(t, s, doc("a"), "", 0)
			cfs := crashBefore("syncdir")
			s.fs = cfs
			if _, err := s.Commit(doc("b"), "", 10*time.Minute); !errors.Is(err, errPowerLost) {
				t.Fatalf("Commit = %v", err)
			}
			cfs.reboot(tt.loss)
			s = mustOpen(t, dir, c)
			if got := s.Running().Config; !bytes.Equal(got, doc(tt.want)) {
				t.Errorf("running %q, want %q", got, doc(tt.want))
			}
			if _, pending := s.Pending(); pending != (tt.want == "b") {
				t.Errorf("pending = %v", pending)
			}
		})
	}
}

// An I/O error (power stays on) at any step of an atomic write leaves the
// target as it was and no temp file behind, except a failing directory
// fsync, which comes after the rename.
func TestWriteFileAtomicErrors(t *testing.T) {
	for _, op := range []string{"create", "chmod", "write", "fsync", "close", "rename", "syncdir"} {
		t.Run(op, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "duid")
			writeFile(t, path, []byte("old"))
			cfs := crashBefore(op)
			cfs.failOnly = true
			err := writeFileAtomic(cfs, path, []byte("new"), 0o644)
			if !errors.Is(err, errInjected) {
				t.Fatalf("error %v does not wrap the injected one", err)
			}
			want := "old"
			if op == "syncdir" {
				want = "new"
			}
			if got, _ := os.ReadFile(path); string(got) != want {
				t.Errorf("file holds %q, want %q", got, want)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("directory holds %d entries, want only the target", len(entries))
			}
		})
	}
}

// A failed commit must not change what the store shows, and the number it
// burnt is not reused.
func TestCommitWriteError(t *testing.T) {
	dir, c := t.TempDir(), newClock()
	s := mustOpen(t, dir, c)
	cfs := crashBefore("rename")
	cfs.failOnly = true
	s.fs = cfs
	if _, err := s.Commit(doc("a"), "", 0); !errors.Is(err, errInjected) {
		t.Fatalf("Commit = %v", err)
	}
	if r := s.Running(); r.Seq != 1 {
		t.Errorf("running seq %d after a failed commit", r.Seq)
	}
	s.fs = osFS{}
	if r := mustCommit(t, s, doc("a"), "", 0); r.Seq != 3 {
		t.Errorf("next commit got seq %d, want 3", r.Seq)
	}
	if got := dirFiles(t, dir); !slices.Equal(got, []string{revName(1), revName(3)}) {
		t.Errorf("files = %v", got)
	}
}
