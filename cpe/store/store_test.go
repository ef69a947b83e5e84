package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpenWritesFactoryDefault(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, newClock())
	r := s.Running()
	if r.Seq != 1 || r.Comment != "factory default" || !bytes.Equal(r.Config, factory) || !r.Time.Equal(t0) {
		t.Errorf("Running() = %+v, want seq 1 %q at %v", r, "factory default", t0)
	}
	if got := dirFiles(t, dir); !slices.Equal(got, []string{"rev-000001.json"}) {
		t.Errorf("files = %v", got)
	}
	if ws := s.Warnings(); len(ws) != 0 {
		t.Errorf("Warnings() = %v", ws)
	}
	// A second Open finds it and writes nothing new.
	s2, err := Open(dir, newClock().Now, doc("other"))
	if err != nil {
		t.Fatal(err)
	}
	if r2 := s2.Running(); r2.Seq != 1 || !bytes.Equal(r2.Config, factory) {
		t.Errorf("after reopen Running() = %+v", r2)
	}
}

func TestOpenRejectsBadInitial(t *testing.T) {
	for _, initial := range []string{"", "null", "[1]", "{", "not json"} {
		if _, err := Open(t.TempDir(), newClock().Now, []byte(initial)); err == nil {
			t.Errorf("Open with initial %q: no error", initial)
		}
	}
}

func TestCommitValidates(t *testing.T) {
	tests := []struct {
		name   string
		doc    string
		within time.Duration
		ok     bool
		want   string // Config as stored
	}{
		{"object", `{"a":1}`, 0, true, "{\"a\":1}\n"},
		{"surrounding space trimmed", " \n{\"a\": 1}\n\n\n", 0, true, "{\"a\": 1}\n"},
		{"layout kept", "{\n  \"a\": [1,\n 2]\n}\n", 0, true, "{\n  \"a\": [1,\n 2]\n}\n"},
		{"confirmed", `{}`, time.Minute, true, "{}\n"},
		{"empty", "", 0, false, ""},
		{"null", "null", 0, false, ""},
		{"array", "[]", 0, false, ""},
		{"truncated", `{"a":`, 0, false, ""},
		{"two values", `{} {}`, 0, false, ""},
		{"negative confirm", `{}`, -time.Second, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, newClock())
			r, err := s.Commit([]byte(tt.doc), tt.name, tt.within)
			if !tt.ok {
				if err == nil {
					t.Fatalf("Commit(%q) succeeded", tt.doc)
				}
				if !strings.HasPrefix(err.Error(), "store: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				if s.Running().Seq != 1 || len(dirFiles(t, dir)) != 1 {
					t.Errorf("failed commit changed the store")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Config) != tt.want {
				t.Errorf("Config = %q, want %q", r.Config, tt.want)
			}
			got := mustOpen(t, dir, newClock()).Running()
			if got.Seq != 2 || string(got.Config) != tt.want {
				t.Errorf("after reopen: seq %d config %q", got.Seq, got.Config)
			}
		})
	}
}

func TestCommitKeepsAndPrunes(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := mustOpen(t, dir, c)
	const n = 25
	for i := 2; i <= n+1; i++ {
		c.Advance(time.Minute)
		r := mustCommit(t, s, doc(fmt.Sprint("r", i)), fmt.Sprint("comment ", i), 0)
		if r.Seq != i {
			t.Fatalf("commit %d got seq %d", i, r.Seq)
		}
		if !r.Time.Equal(c.Now()) {
			t.Errorf("seq %d: Time %v, want %v", i, r.Time, c.Now())
		}
	}
	check := func(t *testing.T, s *Store) {
		t.Helper()
		revs := s.Revisions()
		if len(revs) != Keep {
			t.Fatalf("Revisions() has %d, want %d", len(revs), Keep)
		}
		for i, r := range revs {
			seq := n + 1 - i
			if r.Seq != seq || r.Comment != fmt.Sprint("comment ", seq) ||
				!bytes.Equal(r.Config, doc(fmt.Sprint("r", seq))) ||
				!r.Time.Equal(t0.Add(time.Duration(seq-1)*time.Minute)) {
				t.Errorf("Revisions()[%d] = seq %d %q %v", i, r.Seq, r.Comment, r.Time)
			}
		}
		if s.Running().Seq != n+1 {
			t.Errorf("Running().Seq = %d", s.Running().Seq)
		}
	}
	check(t, s)
	var want []string
	for seq := n + 1 - Keep + 1; seq <= n+1; seq++ {
		want = append(want, revName(seq))
	}
	if got := dirFiles(t, dir); !slices.Equal(got, want) {
		t.Errorf("files on disk = %v\nwant %v", got, want)
	}
	check(t, mustOpen(t, dir, c))
}

func TestRevisionBack(t *testing.T) {
	c := newClock()
	s := mustOpen(t, t.TempDir(), c)
	for i := 2; i <= 5; i++ {
		mustCommit(t, s, doc(fmt.Sprint(i)), "", 0)
	}
	tests := []struct {
		back    int
		wantSeq int // 0: error
	}{
		{0, 5}, {1, 4}, {3, 2}, {4, 1}, {5, 0}, {-1, 0}, {100, 0},
	}
	for _, tt := range tests {
		r, err := s.Revision(tt.back)
		switch {
		case tt.wantSeq == 0 && err == nil:
			t.Errorf("Revision(%d) = seq %d, want error", tt.back, r.Seq)
		case tt.wantSeq != 0 && err != nil:
			t.Errorf("Revision(%d): %v", tt.back, err)
		case tt.wantSeq != 0 && r.Seq != tt.wantSeq:
			t.Errorf("Revision(%d).Seq = %d, want %d", tt.back, r.Seq, tt.wantSeq)
		}
	}
}

func TestRollbackByRevision(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, newClock())
	mustCommit(t, s, doc("a"), "a", 0)
	mustCommit(t, s, doc("b"), "b", 0)
	mustCommit(t, s, doc("c"), "c", 0)
	old, err := s.Revision(2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old.Config, doc("a")) {
		t.Fatalf("Revision(2) = %q", old.Config)
	}
	r := mustCommit(t, s, old.Config, "rollback 2", 0)
	if r.Seq != 5 || !bytes.Equal(s.Running().Config, doc("a")) {
		t.Errorf("after rollback running = seq %d %q", s.Running().Seq, s.Running().Config)
	}
	prev, _ := s.Revision(1)
	if d := Diff("rev 4", "rev 5", prev.Config, s.Running().Config); !strings.Contains(d, "-    \"hostname\": \"c\"") {
		t.Errorf("Diff of the rollback:\n%s", d)
	}
	if got := mustOpen(t, dir, newClock()).Running(); got.Seq != 5 || !bytes.Equal(got.Config, doc("a")) {
		t.Errorf("after reopen running = seq %d", got.Seq)
	}
}

// Callers get copies: editing what they got must not change the store.
func TestRevisionsAreCopies(t *testing.T) {
	s := mustOpen(t, t.TempDir(), newClock())
	mustCommit(t, s, doc("a"), "", 0)
	r := s.Running()
	r.Config[0] = 'X'
	s.Revisions()[0].Config[1] = 'Y'
	if !bytes.Equal(s.Running().Config, doc("a")) {
		t.Errorf("store changed through a returned revision: %q", s.Running().Config)
	}
}

func TestOpenSkipsBadFiles(t *testing.T) {
	tests := []struct {
		name string
		// mutate damages the files of a store whose revisions are
		// 1 factory, 2 "a", 3 "b".
		mutate      func(t *testing.T, dir string)
		wantRunning []byte
		wantSeq     int
		wantWarning string // a warning must contain this
		corrupt     bool   // and wrap ErrCorrupt
		wantNext    int
	}{
		{
			name: "newest truncated",
			mutate: func(t *testing.T, dir string) {
				data, _ := os.ReadFile(revPath(dir, 3))
				writeFile(t, revPath(dir, 3), data[:len(data)/2])
			},
			wantRunning: doc("a"), wantSeq: 2, wantWarning: "rev-000003.json", corrupt: true, wantNext: 4,
		},
		{
			name:        "newest zero length",
			mutate:      func(t *testing.T, dir string) { writeFile(t, revPath(dir, 3), nil) },
			wantRunning: doc("a"), wantSeq: 2, wantWarning: "rev-000003.json", corrupt: true, wantNext: 4,
		},
		{
			name: "newest config changed under its checksum",
			mutate: func(t *testing.T, dir string) {
				data, _ := os.ReadFile(revPath(dir, 3))
				writeFile(t, revPath(dir, 3), bytes.Replace(data, []byte(`"b"`), []byte(`"x"`), 1))
			},
			wantRunning: doc("a"), wantSeq: 2, wantWarning: "checksum", corrupt: true, wantNext: 4,
		},
		{
			name:        "newest garbage",
			mutate:      func(t *testing.T, dir string) { writeFile(t, revPath(dir, 3), []byte("\x00\x00\x00\x00")) },
			wantRunning: doc("a"), wantSeq: 2, wantWarning: "rev-000003.json", corrupt: true, wantNext: 4,
		},
		{
			name: "file name and content disagree",
			mutate: func(t *testing.T, dir string) {
				data, _ := os.ReadFile(revPath(dir, 2))
				writeFile(t, revPath(dir, 7), data)
			},
			wantRunning: doc("b"), wantSeq: 3, wantWarning: "file says seq 2", corrupt: true, wantNext: 8,
		},
		{
			name: "older file corrupt",
			mutate: func(t *testing.T, dir string) {
				writeFile(t, revPath(dir, 2), []byte(`{"seq":2}`))
			},
			wantRunning: doc("b"), wantSeq: 3, wantWarning: "rev-000002.json", corrupt: true, wantNext: 4,
		},
		{
			name: "all corrupt: factory default again, after them",
			mutate: func(t *testing.T, dir string) {
				for seq := 1; seq <= 3; seq++ {
					writeFile(t, revPath(dir, seq), []byte("{"))
				}
			},
			wantRunning: factory, wantSeq: 4, wantWarning: "rev-000001.json", corrupt: true, wantNext: 5,
		},
		{
			name: "leftover temp file is removed",
			mutate: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "config", ".rev-000004.json.tmp-12345"), []byte(`{"seq":4`))
			},
			wantRunning: doc("b"), wantSeq: 3, wantWarning: "interrupted write", wantNext: 4,
		},
		{
			name: "stranger file is left alone",
			mutate: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "config", "notes.txt"), []byte("hi"))
			},
			wantRunning: doc("b"), wantSeq: 3, wantWarning: "not a revision file", wantNext: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, newClock())
			mustCommit(t, s, doc("a"), "", 0)
			mustCommit(t, s, doc("b"), "", 0)
			tt.mutate(t, dir)

			s = mustOpen(t, dir, newClock())
			if r := s.Running(); r.Seq != tt.wantSeq || !bytes.Equal(r.Config, tt.wantRunning) {
				t.Errorf("Running() = seq %d %q, want seq %d %q", r.Seq, r.Config, tt.wantSeq, tt.wantRunning)
			}
			ws := s.Warnings()
			if !hasWarning(ws, tt.wantWarning) {
				t.Errorf("Warnings() = %v, want one about %q", ws, tt.wantWarning)
			}
			if got := slices.ContainsFunc(ws, func(err error) bool { return errors.Is(err, ErrCorrupt) }); got != tt.corrupt {
				t.Errorf("a warning wraps ErrCorrupt: %v, want %v (%v)", got, tt.corrupt, ws)
			}
			if tmp := tempFiles(t, dir); len(tmp) != 0 {
				t.Errorf("temp files left: %v", tmp)
			}
			// The next commit never reuses the number of a file it could
			// not read.
			if r := mustCommit(t, s, doc("next"), "", 0); r.Seq != tt.wantNext {
				t.Errorf("next commit got seq %d, want %d", r.Seq, tt.wantNext)
			}
			if r := mustOpen(t, dir, newClock()).Running(); r.Seq != tt.wantNext {
				t.Errorf("after reopen running seq %d, want %d", r.Seq, tt.wantNext)
			}
		})
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRevisionFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, newClock())
	mustCommit(t, s, doc("a"), "", 0)
	for _, seq := range []int{1, 2} {
		fi, err := os.Stat(revPath(dir, seq))
		if err != nil {
			t.Fatal(err)
		}
		// Configs hold PPPoE passwords and WireGuard keys.
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", fi.Name(), fi.Mode().Perm())
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := mustOpen(t, dir, c)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if _, err := s.Commit(doc(fmt.Sprint(w, "-", i)), "", time.Duration(i%2)*time.Minute); err != nil {
					errs <- err
				}
				c.Advance(time.Second)
				_ = s.Running()
				_ = s.Revisions()
				_, _ = s.Pending()
				_, _, _ = s.Expire()
				_ = s.Confirm()
				_, _ = s.Revision(3)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	revs := s.Revisions()
	for i := 1; i < len(revs); i++ {
		if revs[i].Seq >= revs[i-1].Seq {
			t.Fatalf("Revisions() not newest first: %d after %d", revs[i].Seq, revs[i-1].Seq)
		}
	}
	s2 := mustOpen(t, dir, c)
	if a, b := s.Running(), s2.Running(); a.Seq != b.Seq || !bytes.Equal(a.Config, b.Config) {
		t.Errorf("reopened running seq %d, in memory %d", b.Seq, a.Seq)
	}
	if tmp := tempFiles(t, dir); len(tmp) != 0 {
		t.Errorf("temp files left: %v", tmp)
	}
}
