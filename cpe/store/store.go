// Package store owns the configuration revisions in the state directory:
// crash-safe atomic files, commit, commit-confirmed with automatic rollback,
// and the diff between two revisions.
package store

// Crash safety
//
// All state lives in <dir>/config/rev-NNNNNN.json, one file per revision, and
// everything else is derived from the set of valid files when Open loads it:
//
//   - running is the newest valid revision;
//   - a commit-confirmed is pending iff the newest revision records a
//     confirm_by, and that is the deadline;
//   - the revert target is the newest revision without a confirm_by. Older
//     files may still carry a confirm_by that a later commit or rollback
//     made moot; it is ignored (and not shown) once a newer revision exists.
//
// Each of Commit, Confirm and Expire changes that state with exactly one
// WriteFileAtomic: Commit and Expire create rev-<seq+1>, Confirm replaces the
// newest file with a copy without confirm_by. The rename is the commit point.
// A crash before it leaves the old file set plus at most a temp file, which
// Open deletes; a crash after it, even before the directory fsync, leaves
// either the old set (the rename was lost) or the new one (it was not).
// Both are consistent states, and since the deadline is stored in the newest
// file, the old state still has its pending deadline, as a wall-clock time, so
// Expire right after Open rolls back what was due while the box was down.
// Pruning old files happens only after the directory fsync made the new
// revision durable, never removes the newest 20 nor the revert target, and a
// removal lost in a crash only leaves an extra old file. Sequence numbers
// are never reused, not even after a failed write or a corrupt file, so a
// stale file can never be mistaken for a newer one.
//
// A file that is torn or corrupt anyway (bad disk, a filesystem mounted
// without data ordering) fails its checksum; Open skips it and the newest
// valid revision runs, which is again an old state (it may bring back the
// pending deadline that file had confirmed).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Keep is how many revisions the store keeps.
const Keep = 20

var (
	// ErrNotPending is returned by Confirm when no commit-confirmed waits.
	ErrNotPending = errors.New("store: no commit-confirmed is pending")
	// ErrCorrupt is wrapped by the warnings about revision files that
	// cannot be read back.
	ErrCorrupt = errors.New("store: corrupt revision file")
)

// Revision is one committed configuration.
type Revision struct {
	Seq     int
	Time    time.Time
	Comment string
	// Config is the document as committed, with surrounding white space
	// trimmed to one trailing newline.
	Config []byte
	// ConfirmBy is zero unless this is the running revision and a
	// commit-confirmed is pending: if Confirm is not called by then, Expire
	// reverts it.
	ConfirmBy time.Time
}

// Store keeps the configuration revisions of one state directory. It is
// safe for concurrent use.
type Store struct {
	fs      fileSystem
	dir     string // <state dir>/config
	now     func() time.Time
	initial []byte

	mu       sync.Mutex
	revs     []Revision // newest first; ConfirmBy as recorded in each file
	next     int        // the next sequence number, above every file ever seen
	warnings []error
}

// Open loads the revisions kept in dir, creating it if needed. Unreadable or
// corrupt revision files are skipped and reported by Warnings; temp files
// left by interrupted writes are deleted. With no valid revision at all it
// commits initial as revision "factory default". now is the wall clock,
// which commit-confirmed deadlines are measured against so that they survive
// a reboot; call Expire right after Open to roll back a deadline that passed
// while the box was down.
func Open(dir string, now func() time.Time, initial []byte) (*Store, error) {
	return openFS(osFS{}, dir, now, initial)
}

func openFS(fsys fileSystem, dir string, now func() time.Time, initial []byte) (*Store, error) {
	initDoc, err := normalizeDoc(initial)
	if err != nil {
		return nil, fmt.Errorf("store: initial config: %w", err)
	}
	s := &Store{fs: fsys, dir: filepath.Join(dir, "config"), now: now, initial: initDoc, next: 1}
	if err := fsys.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	entries, err := fsys.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(s.dir, name)
		if isTempName(name) && !e.IsDir() {
			if err := fsys.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.warn(fmt.Errorf("store: remove leftover temp file: %w", err))
			} else {
				s.warn(fmt.Errorf("store: removed %s left by an interrupted write", path))
			}
			continue
		}
		seq, ok := parseRevName(name)
		if !ok || e.IsDir() {
			s.warn(fmt.Errorf("store: ignoring %s: not a revision file", path))
			continue
		}
		s.next = max(s.next, seq+1)
		data, err := fsys.ReadFile(path)
		if err != nil {
			s.warn(fmt.Errorf("store: skipping revision %d: %w", seq, err))
			continue
		}
		r, err := decodeRevision(data)
		if err == nil && r.Seq != seq {
			err = fmt.Errorf("file says seq %d", r.Seq)
		}
		if err != nil {
			s.warn(fmt.Errorf("%w %s: %w", ErrCorrupt, path, err))
			continue
		}
		s.revs = append(s.revs, r)
	}
	slices.SortFunc(s.revs, func(a, b Revision) int { return b.Seq - a.Seq })
	s.revs = s.kept()
	if len(s.revs) == 0 {
		r := Revision{Seq: s.next, Time: s.now().UTC(), Comment: "factory default", Config: initDoc}
		if err := s.writeLocked(r); err != nil {
			return nil, fmt.Errorf("store: write factory default: %w", err)
		}
		s.revs = []Revision{r}
	}
	return s, nil
}

func (s *Store) warn(err error) { s.warnings = append(s.warnings, err) }

// Warnings returns the problems the store worked around: files Open skipped
// or removed, old revisions it could not prune, a rollback without a target.
func (s *Store) Warnings() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.warnings)
}

// view returns a copy of the i-th newest revision as callers see it.
func (s *Store) view(i int) Revision {
	r := s.revs[i]
	r.Config = slices.Clone(r.Config)
	if i > 0 {
		r.ConfirmBy = time.Time{}
	}
	return r
}

// Running returns the revision in effect.
func (s *Store) Running() Revision {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.view(0)
}

// Revision returns the revision back steps before the running one: 0 is the
// running revision, 1 the one before it.
func (s *Store) Revision(back int) (Revision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if back < 0 || back >= len(s.revs) {
		return Revision{}, fmt.Errorf("store: no revision %d back: %d kept", back, len(s.revs))
	}
	return s.view(back), nil
}

// Revisions returns the kept revisions, newest first: at most Keep, plus the
// revert target of a pending commit-confirmed if that is older.
func (s *Store) Revisions() []Revision {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Revision, len(s.revs))
	for i := range s.revs {
		out[i] = s.view(i)
	}
	return out
}

// Commit stores doc, a JSON object, as the new running revision. With
// confirmWithin > 0 it is a commit-confirmed: unless Confirm is called within
// that time, Expire reverts to the last revision that was not pending.
//
// Committing while a commit-confirmed is pending follows Junos: a plain
// commit confirms the pending revision along with itself, and the revert
// target is gone. A commit-confirmed instead moves the deadline to
// now+confirmWithin and keeps the revert target, the last revision that was
// not pending, so the whole chain of unconfirmed commits is reverted at once.
func (s *Store) Commit(doc []byte, comment string, confirmWithin time.Duration) (Revision, error) {
	cfg, err := normalizeDoc(doc)
	if err != nil {
		return Revision{}, fmt.Errorf("store: commit: %w", err)
	}
	if confirmWithin < 0 {
		return Revision{}, fmt.Errorf("store: commit: negative confirm time %v", confirmWithin)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	r := Revision{Seq: s.next, Time: now, Comment: comment, Config: cfg}
	if confirmWithin > 0 {
		r.ConfirmBy = now.Add(confirmWithin)
	}
	if err := s.writeLocked(r); err != nil {
		return Revision{}, fmt.Errorf("store: commit: %w", err)
	}
	s.revs = slices.Insert(s.revs, 0, r)
	s.pruneLocked()
	return s.view(0), nil
}

// Confirm confirms the pending commit-confirmed. It succeeds as long as
// Expire has not rolled it back yet, even past the deadline: whoever
// confirms has shown the new config did not lock them out.
func (s *Store) Confirm() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.revs[0].ConfirmBy.IsZero() {
		return ErrNotPending
	}
	r := s.revs[0]
	r.ConfirmBy = time.Time{}
	if err := s.writeLocked(r); err != nil {
		return fmt.Errorf("store: confirm: %w", err)
	}
	s.revs[0] = r
	return nil
}

// Pending returns the deadline of the pending commit-confirmed, if any.
func (s *Store) Pending() (deadline time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.revs[0].ConfirmBy
	return d, !d.IsZero()
}

// Expire rolls back a commit-confirmed whose deadline has passed: it commits
// the revert target's config again as a new revision and returns it. If
// nothing is due it returns false and the running revision. If the revert
// target is gone (its file was corrupt), it falls back to the initial config
// given to Open.
func (s *Store) Expire() (rolledBack bool, rev Revision, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pending := s.revs[0]
	now := s.now()
	if pending.ConfirmBy.IsZero() || now.Before(pending.ConfirmBy) {
		return false, s.view(0), nil
	}
	cfg := s.initial
	if i := s.targetIndex(); i >= 0 {
		cfg = s.revs[i].Config
	} else {
		s.warn(fmt.Errorf("store: rollback of revision %d: no confirmed revision left, using the initial config", pending.Seq))
	}
	r := Revision{
		Seq:     s.next,
		Time:    now.UTC(),
		Comment: fmt.Sprintf("automatic rollback: revision %d was not confirmed", pending.Seq),
		Config:  cfg,
	}
	if err := s.writeLocked(r); err != nil {
		return false, s.view(0), fmt.Errorf("store: rollback of revision %d: %w", pending.Seq, err)
	}
	s.revs = slices.Insert(s.revs, 0, r)
	s.pruneLocked()
	return true, s.view(0), nil
}

// targetIndex returns the index of the revert target: the newest revision
// without a deadline, or -1.
func (s *Store) targetIndex() int {
	return slices.IndexFunc(s.revs, func(r Revision) bool { return r.ConfirmBy.IsZero() })
}

func (s *Store) writeLocked(r Revision) error {
	data, err := encodeRevision(r)
	if err != nil {
		return err
	}
	// Burn the number before writing: a failed write may still have left
	// the file behind (the directory fsync failed after the rename), and the
	// next commit must sort above it.
	s.next = max(s.next, r.Seq+1)
	return writeFileAtomic(s.fs, filepath.Join(s.dir, revName(r.Seq)), data, 0o600)
}

// kept returns the revisions to keep: the newest Keep and the revert target.
func (s *Store) kept() []Revision {
	if len(s.revs) <= Keep {
		return s.revs
	}
	out := s.revs[:Keep:Keep]
	if t := s.targetIndex(); t >= Keep {
		out = append(out, s.revs[t])
	}
	return out
}

// pruneLocked deletes the revision files that fell out of kept, including
// corrupt ones older than the oldest kept revision. A failed or lost removal
// leaves an old file that the next prune retries.
func (s *Store) pruneLocked() {
	s.revs = s.kept()
	if len(s.revs) < Keep {
		return
	}
	floor := s.revs[Keep-1].Seq
	keepSeq := s.revs[len(s.revs)-1].Seq
	entries, err := s.fs.ReadDir(s.dir)
	if err != nil {
		s.warn(fmt.Errorf("store: prune: %w", err))
		return
	}
	for _, e := range entries {
		seq, ok := parseRevName(e.Name())
		if !ok || seq >= floor || seq == keepSeq || e.IsDir() {
			continue
		}
		if err := s.fs.Remove(filepath.Join(s.dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.warn(fmt.Errorf("store: prune: %w", err))
		}
	}
}
