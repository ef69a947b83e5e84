package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

const maxConfirmMinutes = 1440

func (c *Console) configureBuiltins() []*command {
	return []*command{
		{Command: Command{
			Words: []string{"set"}, Args: "PATH... [VALUE]", Modes: confOnly,
			Help: "set the value at PATH (the last word), or create the block or turn on the flag PATH",
			Run: func(_ context.Context, s *Session, args []string, _ io.Writer) error {
				return s.set(args)
			},
		}, kind: argsSet},
		{Command: Command{
			Words: []string{"delete"}, Args: "PATH...", Modes: confOnly,
			Help: "remove PATH from the candidate",
			Run: func(_ context.Context, s *Session, args []string, _ io.Writer) error {
				doc, err := s.c.schema.Delete(s.candidate, args)
				if err != nil {
					return err
				}
				s.candidate = doc
				return nil
			},
		}, kind: argsDelete},
		{Command: Command{
			Words: []string{"show"}, Args: "[PATH...]", Modes: confOnly,
			Help: "the candidate configuration, or the part at PATH; `show | compare` diffs it",
			Run: func(_ context.Context, s *Session, args []string, w io.Writer) error {
				err := s.showDoc(s.candidate, args, w)
				if err != nil && s.isOperationalShow(args) {
					return fmt.Errorf("%w (for the operational command, use `run show %s`)", err, strings.Join(args, " "))
				}
				return err
			},
		}, kind: argsShowCandidate},
		{Command: Command{
			Words: []string{"compare"}, Modes: confOnly,
			Help: "differences between the running configuration and the candidate",
			Run: func(_ context.Context, s *Session, _ []string, w io.Writer) error {
				return s.compareSubtree(nil, w)
			},
		}},
		{Command: Command{
			Words: []string{"compare", "rollback"}, Args: "N", Modes: confOnly,
			Help: "differences between revision N (0 = running) and the candidate",
			Run: func(_ context.Context, s *Session, args []string, w io.Writer) error {
				return s.compareRollback(args[0], w)
			},
			Complete: completeRevision,
		}},
		{Command: Command{
			Words: []string{"commit"}, Modes: confOnly,
			Help: "check the candidate and make it the running configuration",
			Run: func(ctx context.Context, s *Session, _ []string, w io.Writer) error {
				return s.commit(ctx, "", 0, w)
			},
		}},
		{Command: Command{
			Words: []string{"commit", "comment"}, Args: "TEXT...", Modes: confOnly,
			Help: "commit with a comment shown by `show commits`",
			Run: func(ctx context.Context, s *Session, args []string, w io.Writer) error {
				return s.commit(ctx, strings.Join(args, " "), 0, w)
			},
			Complete: func([]string) []Completion { return []Completion{{"<text>", "the comment"}} },
		}},
		{Command: Command{
			Words: []string{"commit", "confirmed"}, Args: "MINUTES [comment TEXT...]", Modes: confOnly,
			Help: "commit, and roll back after MINUTES (1..1440) unless `confirm` is given",
			Run: func(ctx context.Context, s *Session, args []string, w io.Writer) error {
				return s.commitConfirmed(ctx, args, w)
			},
			Complete: completeConfirmed,
		}},
		{Command: Command{
			Words: []string{"commit", "check"}, Modes: confOnly,
			Help: "only validate the candidate",
			Run: func(_ context.Context, s *Session, _ []string, w io.Writer) error {
				if err := s.c.schema.Check(s.candidate); err != nil {
					return invalid(err, "the candidate configuration is invalid")
				}
				writeLine(w, "configuration check succeeds")
				return nil
			},
		}},
		{Command: Command{
			Words: []string{"rollback"}, Args: "N", Modes: confOnly,
			Help:     "load revision N (0 = running) into the candidate; does not commit",
			Run:      func(_ context.Context, s *Session, args []string, w io.Writer) error { return s.rollback(args[0], w) },
			Complete: completeRevision,
		}},
		{Command: Command{
			Words: []string{"exit"}, Modes: confOnly,
			Help: "back to operational mode; refused while there are uncommitted changes",
			Run:  func(_ context.Context, s *Session, _ []string, w io.Writer) error { return s.leaveConfigure(false, w) },
		}, control: true},
		{Command: Command{
			Words: []string{"exit", "discard"}, Modes: confOnly,
			Help: "back to operational mode, dropping uncommitted changes",
			Run:  func(_ context.Context, s *Session, _ []string, w io.Writer) error { return s.leaveConfigure(true, w) },
		}, control: true},
		{Command: Command{
			Words: []string{"quit"}, Modes: confOnly,
			Help: "same as exit",
			Run:  func(_ context.Context, s *Session, _ []string, w io.Writer) error { return s.leaveConfigure(false, w) },
		}, control: true},
		{Command: Command{
			Words: []string{"run"}, Args: "COMMAND...", Modes: confOnly,
			Help: "run an operational command",
			Run: func(ctx context.Context, s *Session, args []string, w io.Writer) error {
				return s.dispatch(ctx, Operational, args, w)
			},
		}, kind: argsCommand, target: Operational},
		{Command: Command{
			// There are no `edit` levels yet, so the top is where every
			// session already is; kept so that habits from other CLIs work.
			Words: []string{"top"}, Modes: confOnly,
			Help: "go to the top of the configuration (paths are always typed from the top)",
			Run:  func(context.Context, *Session, []string, io.Writer) error { return nil },
		}},
	}
}

func completeRevision(args []string) []Completion {
	if len(args) > 0 {
		return nil
	}
	return []Completion{{"<N>", "revisions back: 0 = running, 1 = the one before, ... (see `run show commits`)"}}
}

func completeConfirmed(args []string) []Completion {
	switch {
	case len(args) == 0:
		return []Completion{{"<minutes 1..1440>", "roll back unless confirmed within this time"}}
	case len(args) == 1:
		return []Completion{{"comment", "a comment shown by `show commits`"}}
	default:
		return []Completion{{"<text>", "the comment"}}
	}
}

func (s *Session) enterConfigure(w io.Writer) error {
	if s.mode == Configure {
		return errors.New("already in configure mode")
	}
	running := s.c.cfg.Running()
	s.candidate = bytes.Clone(running)
	s.base = bytes.Clone(running)
	s.mode = Configure
	writeLine(w, "entering configure mode: changes apply on `commit`")
	return nil
}

func (s *Session) leaveConfigure(discard bool, w io.Writer) error {
	dirty := s.dirty()
	if dirty && !discard {
		return errors.New("uncommitted changes: commit them, or `exit discard`")
	}
	if dirty {
		writeLine(w, "uncommitted changes discarded")
	}
	s.mode, s.candidate, s.base = Operational, nil, nil
	return nil
}

// dirty reports whether the candidate differs from the configuration it
// was taken from.
func (s *Session) dirty() bool {
	return s.mode == Configure && !sameDoc(s.candidate, s.base)
}

// set reads its words as PATH... VALUE first, and as a PATH naming a block
// or a flag (Set with value "") when that fails: "set mesh" creates the mesh
// block, "set firewall enabled" turns the flag on, "set system hostname x"
// sets a value. When both readings fail, the error shown is the one of the
// reading the words were meant in: the path reading when the value reading
// failed on a block (ErrNotLeaf) or when the last word is a known next
// word of the path, the value reading otherwise.
func (s *Session) set(args []string) error {
	n := len(args)
	schema := s.c.schema
	doc, errValue := schema.Set(s.candidate, args[:n-1], args[n-1])
	if errValue == nil {
		s.candidate = doc
		return nil
	}
	doc, errPath := schema.Set(s.candidate, args, "")
	if errPath == nil {
		s.candidate = doc
		return nil
	}
	if n == 1 || errors.Is(errValue, ErrNotLeaf) || isNextWord(schema.Complete(s.candidate, args[:n-1]), args[n-1]) {
		return errPath
	}
	return errValue
}

func isNextWord(items []Completion, w string) bool {
	return slices.ContainsFunc(items, func(c Completion) bool { return c.Word == w })
}

func (s *Session) showDoc(doc []byte, path []string, w io.Writer) error {
	if len(path) == 0 {
		writeLine(w, string(doc))
		return nil
	}
	sub, err := s.c.schema.Get(doc, path)
	if err != nil {
		return err
	}
	writeLine(w, string(sub))
	return nil
}

// isOperationalShow reports whether `show args` names an operational
// command, which configure mode's show hides.
func (s *Session) isOperationalShow(args []string) bool {
	_, _, err := s.c.lookupIn(Operational, append([]string{"show"}, args...), true)
	return err == nil
}

// warnRunningChanged reports whether someone else's commit, or the rollback of
// a confirmed commit, replaced the running configuration under the session.
func (s *Session) warnRunningChanged(running []byte, w io.Writer) {
	if !sameDoc(running, s.base) {
		writeLine(w, "warning: the running configuration changed since this candidate was made "+
			"(another session committed, or a confirmed commit was rolled back); "+
			"committing replaces it with this candidate")
	}
}

// compareSubtree diffs the running configuration against the candidate,
// the whole documents or the parts at path.
func (s *Session) compareSubtree(path []string, w io.Writer) error {
	running := s.c.cfg.Running()
	s.warnRunningChanged(running, w)
	a, b := running, s.candidate
	if len(path) > 0 {
		var errA, errB error
		a, errA = s.c.schema.Get(running, path)
		b, errB = s.c.schema.Get(s.candidate, path)
		if errA != nil && errB != nil {
			return errB
		}
		// A part present on one side only shows as all added or all
		// removed.
		if errA != nil {
			a = nil
		}
		if errB != nil {
			b = nil
		}
	}
	writeDiff(w, s.c.cfg.Diff("running", "candidate", a, b))
	return nil
}

func writeDiff(w io.Writer, d string) {
	if d == "" {
		writeLine(w, "no changes")
		return
	}
	writeLine(w, d)
}

func parseRevision(arg string) (int, error) {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a revision number: 0 = running, 1 = the one before, ...", arg)
	}
	return n, nil
}

func (s *Session) compareRollback(arg string, w io.Writer) error {
	n, err := parseRevision(arg)
	if err != nil {
		return err
	}
	rev, err := s.c.cfg.Revision(n)
	if err != nil {
		return fmt.Errorf("rollback %d: %w", n, err)
	}
	writeDiff(w, s.c.cfg.Diff(fmt.Sprintf("rollback %d", n), "candidate", rev, s.candidate))
	return nil
}

func (s *Session) rollback(arg string, w io.Writer) error {
	n, err := parseRevision(arg)
	if err != nil {
		return err
	}
	rev, err := s.c.cfg.Revision(n)
	if err != nil {
		return fmt.Errorf("rollback %d: %w", n, err)
	}
	s.candidate = bytes.Clone(rev)
	// Loading a revision is a fresh start from what runs now: the warning
	// about others' commits has been seen and acted on.
	s.base = bytes.Clone(s.c.cfg.Running())
	if n == 0 {
		writeLine(w, "candidate reset to the running configuration")
		return nil
	}
	writeLine(w, fmt.Sprintf("loaded rollback %d into the candidate; nothing is committed: review with `compare`, apply with `commit`", n))
	return nil
}

func (s *Session) commitConfirmed(ctx context.Context, args []string, w io.Writer) error {
	minutes, err := strconv.Atoi(args[0])
	if err != nil || minutes < 1 || minutes > maxConfirmMinutes {
		return fmt.Errorf("commit confirmed: %q is not a number of minutes between 1 and %d", args[0], maxConfirmMinutes)
	}
	comment := ""
	if rest := args[1:]; len(rest) > 0 {
		if !strings.HasPrefix("comment", rest[0]) {
			return fmt.Errorf("commit confirmed: expected `comment TEXT...` after the minutes, got %q", rest[0])
		}
		if len(rest) == 1 {
			return errors.New("commit confirmed: comment needs text")
		}
		comment = strings.Join(rest[1:], " ")
	}
	return s.commit(ctx, comment, time.Duration(minutes)*time.Minute, w)
}

// commit validates the whole candidate first so that a bad candidate never
// reaches the store; on success the candidate restarts from the new running
// configuration.
func (s *Session) commit(ctx context.Context, comment string, within time.Duration, w io.Writer) error {
	if err := s.c.schema.Check(s.candidate); err != nil {
		return invalid(err, "the candidate configuration is invalid, nothing was committed")
	}
	s.warnRunningChanged(s.c.cfg.Running(), w)
	msg, err := s.c.cfg.Commit(ctx, bytes.Clone(s.candidate), comment, within)
	if err != nil {
		return fmt.Errorf("commit failed: %w", err)
	}
	s.c.log.Info("commit", "session", s.name, "comment", comment, "confirm_within", within, "result", msg)
	writeLine(w, msg)
	if within > 0 {
		writeLine(w, fmt.Sprintf("type `confirm` within %d minute(s), or the previous configuration comes back", int(within/time.Minute)))
	}
	running := s.c.cfg.Running()
	s.candidate, s.base = bytes.Clone(running), bytes.Clone(running)
	return nil
}

func invalid(err error, what string) error {
	return fmt.Errorf("%s:\n%s", what, strings.TrimRight(err.Error(), "\n"))
}

// sameDoc compares configuration documents by content, so that a candidate
// edited back to the original counts as unchanged whatever its formatting.
func sameDoc(a, b []byte) bool {
	if bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b)) {
		return true
	}
	x, errA := decodeAny(a)
	y, errB := decodeAny(b)
	return errA == nil && errB == nil && reflect.DeepEqual(x, y)
}

func decodeAny(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
