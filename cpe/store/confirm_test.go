package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"cpe/internal/clock"
)

// step is one action in a commit-confirmed script. After each step the test
// checks the running config and the pending deadline.
type step struct {
	desc string
	do   func(e *confirmEnv) error
	// want is the name of the running doc; deadline the pending deadline as
	// an offset from t0, or 0 when nothing may be pending.
	want     string
	deadline time.Duration
}

type confirmEnv struct {
	t     *testing.T
	dir   string
	clock *clock.Fake
	s     *Store
}

func commit(name string, within time.Duration, want string, deadline time.Duration) step {
	return step{
		desc: fmt.Sprintf("commit %s confirm %v", name, within),
		do: func(e *confirmEnv) error {
			_, err := e.s.Commit(doc(name), "commit "+name, within)
			return err
		},
		want: want, deadline: deadline,
	}
}

func advance(d time.Duration, want string, deadline time.Duration) step {
	return step{
		desc: fmt.Sprintf("advance %v", d),
		do:   func(e *confirmEnv) error { e.clock.Advance(d); return nil },
		want: want, deadline: deadline,
	}
}

func expire(rolledBack bool, want string, deadline time.Duration) step {
	return step{
		desc: fmt.Sprintf("expire (rolls back: %v)", rolledBack),
		do: func(e *confirmEnv) error {
			got, rev, err := e.s.Expire()
			if err != nil {
				return err
			}
			if got != rolledBack {
				return fmt.Errorf("Expire rolled back = %v", got)
			}
			if !bytes.Equal(rev.Config, doc(want)) {
				return fmt.Errorf("Expire returned %q", rev.Config)
			}
			return nil
		},
		want: want, deadline: deadline,
	}
}

func confirm(wantErr bool, want string) step {
	return step{
		desc: "confirm",
		do: func(e *confirmEnv) error {
			err := e.s.Confirm()
			if wantErr {
				if !errors.Is(err, ErrNotPending) {
					return fmt.Errorf("Confirm() = %v, want ErrNotPending", err)
				}
				return nil
			}
			return err
		},
		want: want,
	}
}

// reboot reopens the store from disk with the same clock.
func reboot(want string, deadline time.Duration) step {
	return step{
		desc: "reboot",
		do: func(e *confirmEnv) error {
			s, err := Open(e.dir, e.clock.Now, factory)
			if err != nil {
				return err
			}
			if ws := s.Warnings(); len(ws) != 0 {
				return fmt.Errorf("warnings after reopen: %v", ws)
			}
			e.s = s
			return nil
		},
		want: want, deadline: deadline,
	}
}

func TestCommitConfirmed(t *testing.T) {
	const m = time.Minute
	tests := []struct {
		name  string
		steps []step
	}{
		{"expire before the deadline does nothing", []step{
			commit("a", 0, "a", 0),
			commit("b", 10*m, "b", 10*m),
			advance(10*m-time.Second, "b", 10*m),
			expire(false, "b", 10*m),
		}},
		{"expire at the deadline rolls back", []step{
			commit("a", 0, "a", 0),
			commit("b", 10*m, "b", 10*m),
			advance(10*m, "b", 10*m),
			expire(true, "a", 0),
			expire(false, "a", 0),
			confirm(true, "a"),
		}},
		{"confirm cancels the rollback", []step{
			commit("a", 0, "a", 0),
			commit("b", 10*m, "b", 10*m),
			advance(m, "b", 10*m),
			confirm(false, "b"),
			confirm(true, "b"),
			advance(time.Hour, "b", 0),
			expire(false, "b", 0),
			reboot("b", 0),
			expire(false, "b", 0),
		}},
		{"confirm without a pending commit fails", []step{
			confirm(true, "factory"),
			commit("a", 0, "a", 0),
			confirm(true, "a"),
		}},
		{"confirm late but before expire still counts", []step{
			commit("a", 0, "a", 0),
			commit("b", 10*m, "b", 10*m),
			advance(11*m, "b", 10*m),
			confirm(false, "b"),
			expire(false, "b", 0),
		}},
		{"deadline survives a reboot and fires after it", []step{
			commit("a", 0, "a", 0),
			commit("b", 10*m, "b", 10*m),
			advance(5*m, "b", 10*m),
			reboot("b", 10*m),
			expire(false, "b", 10*m),
			advance(5*m, "b", 10*m),
			reboot("b", 10*m),
			expire(true, "a", 0),
			reboot("a", 0),
		}},
		{"deadline passed while the box was off", []step{
			commit("a", 0, "a", 0),
			commit("b", 10*m, "b", 10*m),
			advance(3*time.Hour, "b", 10*m),
			reboot("b", 10*m),
			expire(true, "a", 0),
		}},
		{"confirm survives a reboot", []step{
			commit("a", 0, "a", 0),
			commit("b", 10*m, "b", 10*m),
			confirm(false, "b"),
			reboot("b", 0),
			advance(time.Hour, "b", 0),
			expire(false, "b", 0),
		}},
		{"plain commit during pending confirms it", []step{
			commit("a", 0, "a", 0),
			commit("b", 10*m, "b", 10*m),
			commit("c", 0, "c", 0),
			confirm(true, "c"),
			advance(time.Hour, "c", 0),
			expire(false, "c", 0),
			reboot("c", 0),
			expire(false, "c", 0),
		}},
		{"confirmed commit during pending moves the deadline and keeps the target", []step{
			commit("a", 0, "a", 0),
			commit("b", 10*m, "b", 10*m),
			advance(5*m, "b", 10*m),
			commit("c", 10*m, "c", 15*m),
			advance(6*m, "c", 15*m), // b's deadline has passed
			expire(false, "c", 15*m),
			reboot("c", 15*m),
			advance(4*m, "c", 15*m),
			expire(true, "a", 0),
		}},
		{"confirm after a chain of confirmed commits confirms the last", []step{
			commit("a", 0, "a", 0),
			commit("b", 10*m, "b", 10*m),
			commit("c", 20*m, "c", 20*m),
			confirm(false, "c"),
			reboot("c", 0),
			advance(time.Hour, "c", 0),
			expire(false, "c", 0),
		}},
		{"a rollback revision is the next revert target", []step{
			commit("a", 0, "a", 0),
			commit("b", 10*m, "b", 10*m),
			advance(10*m, "b", 10*m),
			expire(true, "a", 0),
			commit("c", 10*m, "c", 20*m),
			advance(10*m, "c", 20*m),
			expire(true, "a", 0),
		}},
		{"first commit confirmed rolls back to the factory default", []step{
			commit("a", time.Second, "a", time.Second),
			advance(time.Second, "a", time.Second),
			expire(true, "factory", 0),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &confirmEnv{t: t, dir: t.TempDir(), clock: newClock()}
			e.s = mustOpen(t, e.dir, e.clock)
			for i, st := range tt.steps {
				if err := st.do(e); err != nil {
					t.Fatalf("step %d (%s): %v", i, st.desc, err)
				}
				if got := e.s.Running().Config; !bytes.Equal(got, doc(st.want)) {
					t.Fatalf("after step %d (%s): running %q, want %q", i, st.desc, got, doc(st.want))
				}
				d, ok := e.s.Pending()
				switch {
				case st.deadline == 0 && ok:
					t.Fatalf("after step %d (%s): pending until %v, want nothing pending", i, st.desc, d)
				case st.deadline != 0 && (!ok || !d.Equal(t0.Add(st.deadline))):
					t.Fatalf("after step %d (%s): Pending() = %v, %v; want t0+%v", i, st.desc, d, ok, st.deadline)
				}
				if rd := e.s.Running().ConfirmBy; !rd.Equal(d) {
					t.Fatalf("after step %d (%s): Running().ConfirmBy %v, Pending() %v", i, st.desc, rd, d)
				}
			}
		})
	}
}

func TestRollbackRevision(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := mustOpen(t, dir, c)
	mustCommit(t, s, doc("a"), "a", 0)
	mustCommit(t, s, doc("b"), "try b", 10*time.Minute)
	c.Advance(time.Hour)
	rolled, rev, err := s.Expire()
	if err != nil || !rolled {
		t.Fatalf("Expire() = %v, %v", rolled, err)
	}
	if rev.Seq != 4 || rev.Comment != "automatic rollback: revision 3 was not confirmed" ||
		!rev.Time.Equal(c.Now()) || !rev.ConfirmBy.IsZero() {
		t.Errorf("rollback revision = %+v", rev)
	}
	revs := s.Revisions()
	var got []string
	for _, r := range revs {
		got = append(got, fmt.Sprintf("%d %s confirm:%v", r.Seq, r.Comment, !r.ConfirmBy.IsZero()))
	}
	want := []string{
		"4 automatic rollback: revision 3 was not confirmed confirm:false",
		"3 try b confirm:false", // its deadline is history now
		"2 a confirm:false",
		"1 factory default confirm:false",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Revisions():\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Twenty-odd confirmed commits in a row must not prune the revert target.
func TestPruneKeepsRevertTarget(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := mustOpen(t, dir, c)
	mustCommit(t, s, doc("safe"), "safe", 0)
	for i := range Keep + 5 {
		c.Advance(time.Minute)
		mustCommit(t, s, doc(fmt.Sprint("try", i)), "", time.Hour)
	}
	check := func(s *Store) {
		t.Helper()
		revs := s.Revisions()
		if len(revs) != Keep+1 || revs[Keep].Seq != 2 {
			t.Fatalf("Revisions() has %d, last seq %d; want %d ending with seq 2", len(revs), revs[len(revs)-1].Seq, Keep+1)
		}
		if n := len(dirFiles(t, dir)); n != Keep+1 {
			t.Errorf("%d files on disk, want %d", n, Keep+1)
		}
	}
	check(s)
	s = mustOpen(t, dir, c)
	check(s)
	c.Advance(time.Hour)
	if rolled, rev, err := s.Expire(); err != nil || !rolled || !bytes.Equal(rev.Config, doc("safe")) {
		t.Fatalf("Expire() = %v, %q, %v", rolled, rev.Config, err)
	}
	// With the rollback committed the target needs no special keeping.
	if n := len(s.Revisions()); n != Keep {
		t.Errorf("after rollback %d revisions kept", n)
	}
	if n := len(dirFiles(t, dir)); n != Keep {
		t.Errorf("after rollback %d files on disk", n)
	}
}

// If the revert target's file went bad, the rollback still happens, to the
// factory config, rather than leaving the unconfirmed config running.
func TestRollbackWithoutTarget(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := mustOpen(t, dir, c)
	mustCommit(t, s, doc("a"), "", 0)
	mustCommit(t, s, doc("b"), "", 10*time.Minute)
	for _, seq := range []int{1, 2} {
		if err := os.WriteFile(revPath(dir, seq), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s = mustOpen(t, dir, c)
	c.Advance(time.Hour)
	rolled, rev, err := s.Expire()
	if err != nil || !rolled || !bytes.Equal(rev.Config, factory) {
		t.Fatalf("Expire() = %v, %q, %v", rolled, rev.Config, err)
	}
	if !hasWarning(s.Warnings(), "no confirmed revision left") {
		t.Errorf("Warnings() = %v", s.Warnings())
	}
}
