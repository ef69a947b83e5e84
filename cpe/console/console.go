package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

// Mode is where a session is: operational commands, or editing a candidate.
type Mode int

const (
	Operational Mode = iota
	Configure
)

func (m Mode) String() string {
	switch m {
	case Operational:
		return "operational"
	case Configure:
		return "configure"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// prompt is fixed: tests, the qemu harness and scripts driving the serial
// line wait for these exact strings.
func (m Mode) prompt() string {
	if m == Configure {
		return "cpe# "
	}
	return "cpe> "
}

// Completion is one possible next word and its one-line help. Words in angle
// brackets ("<integer 48..64>") are placeholders: shown by ?, never inserted
// by Tab.
type Completion struct{ Word, Help string }

// Schema is the configuration document editor (cpe/config, adapted by the
// daemon). Paths are the words as typed: "wan 0 dhcp6 prefix_hint".
type Schema interface {
	Set(doc []byte, path []string, value string) ([]byte, error)
	Delete(doc []byte, path []string) ([]byte, error)
	// Get returns the subtree at path as indented JSON; an empty path is
	// the whole document.
	Get(doc []byte, path []string) ([]byte, error)
	// Complete returns the candidates for the word after path: field
	// names, list indices, enum values, "<placeholders>".
	Complete(doc []byte, path []string) []Completion
	Describe(path []string) (string, error)
	// Check validates the whole document; the error text lists every
	// problem, one per line.
	Check(doc []byte) error
}

// ErrNotLeaf is what Schema.Set should wrap when it is given a value for a
// path that names a block or a list. `set` then knows the last word was a
// path word, not a value, and reports the error of that reading.
var ErrNotLeaf = errors.New("path names a block, not a value")

// Configurator is the revision store and the applier (the daemon).
type Configurator interface {
	Running() []byte
	// Revision returns an earlier configuration: 0 = running, 1 = the
	// previous one...
	Revision(back int) ([]byte, error)
	// Commit stores and applies doc; confirmWithin > 0 makes it roll back
	// unless confirmed in time. The message is shown to the user.
	Commit(ctx context.Context, doc []byte, comment string, confirmWithin time.Duration) (string, error)
	Confirm(ctx context.Context) (string, error)
	// Diff is "" when a and b are equal.
	Diff(oldName, newName string, a, b []byte) string
}

// Command is an operational command registered by the daemon.
type Command struct {
	Words []string // fixed words, e.g. {"show", "version"}
	// Args is the usage of the trailing arguments: "", "N", "[N]",
	// "[WORDS...]". Words without brackets are required, "..." takes any
	// number; "" allows none.
	Args  string
	Help  string
	Modes []Mode // where the command is available; nil = both
	Run   func(ctx context.Context, s *Session, args []string, w io.Writer) error
	// Complete returns candidates for the argument after args (optional).
	Complete func(args []string) []Completion
}

// Options configure a Console.
type Options struct {
	Logger *slog.Logger
	// Hostname is not used in the prompt yet: prompts are fixed strings.
	Hostname func() string
}

// Console holds the grammar; sessions hold the state of one user.
type Console struct {
	schema Schema
	cfg    Configurator
	log    *slog.Logger
	cmds   [2][]*command // by Mode
	nextID atomic.Uint64
}

// New builds a console. Registered commands that are malformed, or that a
// built-in would hide, are skipped with a warning in the log: the box must
// boot with a console even when one command is wrong.
func New(schema Schema, cfg Configurator, cmds []Command, opts Options) *Console {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Console{schema: schema, cfg: cfg, log: log.With("component", "console")}
	c.register(cmds)
	return c
}

// Session is one user's state: mode, candidate and the running
// configuration the candidate was taken from. A session is used by one
// goroutine at a time.
type Session struct {
	c         *Console
	name      string
	mode      Mode
	candidate []byte
	base      []byte // running when the candidate was made, to spot commits by others
	allowExit bool
	ended     bool
}

// NewSession starts a session in operational mode. `exit` in operational
// mode marks it ended (see Ended); the owner decides what that means.
func (c *Console) NewSession() *Session {
	return c.newSession("api", true)
}

func (c *Console) newSession(kind string, allowExit bool) *Session {
	return &Session{
		c:         c,
		name:      fmt.Sprintf("%s#%d", kind, c.nextID.Add(1)),
		allowExit: allowExit,
	}
}

// Mode reports the session's mode.
func (s *Session) Mode() Mode { return s.mode }

// Ended reports whether the user typed `exit` or `quit` in operational mode.
func (s *Session) Ended() bool { return s.ended }

// Candidate returns a copy of the candidate configuration, nil in
// operational mode.
func (s *Session) Candidate() []byte {
	if s.mode != Configure {
		return nil
	}
	return append([]byte(nil), s.candidate...)
}

// maxExecLine bounds one command line; the line editor stops at
// maxEditLine already, this is for lines arriving over the socket.
const maxExecLine = 64 << 10

// Exec runs one command line and writes its output to w. On failure Exec
// itself prints "error: MESSAGE" (continuation lines indented) and returns
// the error, so callers only count failures. A line ending with an unquoted
// "?" lists the possible next words instead of running. Errors are
// user-facing messages, not prefixed with the package name.
func (s *Session) Exec(ctx context.Context, line string, w io.Writer) error {
	err := s.exec(ctx, line, w)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			err = errInterrupted
		}
		printError(w, err)
	}
	return err
}

var errInterrupted = errors.New("interrupted")

func (s *Session) exec(ctx context.Context, line string, w io.Writer) error {
	if len(line) > maxExecLine {
		return fmt.Errorf("line too long: %d bytes, at most %d", len(line), maxExecLine)
	}
	if before, ok := helpRequest(line); ok {
		return s.listHelp(before, w)
	}
	lx, err := lex(line, false)
	if err != nil {
		return err
	}
	if lx.comment || len(lx.toks) == 0 {
		return nil
	}
	words, pipe, hasPipe, err := splitPipe(lx.toks)
	if err != nil {
		return err
	}
	if len(words) == 0 {
		return errors.New("missing command before |")
	}
	cmd, args, err := s.c.lookup(s.mode, words)
	if err != nil {
		return err
	}
	if hasPipe {
		if cmd.kind != argsShowCandidate {
			return errors.New("pipes are only supported as `show [PATH...] | compare` in configure mode")
		}
		if err := checkPipe(pipe); err != nil {
			return err
		}
		return s.compareSubtree(args, w)
	}
	if err := checkArgs(cmd, args); err != nil {
		return err
	}
	s.c.log.Debug("exec", "session", s.name, "mode", s.mode.String(), "command", strings.Join(cmd.Words, " "))
	return cmd.Run(ctx, s, args, w)
}

// printError writes err as "error: first line" with later lines indented,
// so a list of validation problems stays readable.
func printError(w io.Writer, err error) {
	lines := strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")
	var b strings.Builder
	b.WriteString("error: ")
	b.WriteString(lines[0])
	b.WriteByte('\n')
	for _, l := range lines[1:] {
		b.WriteString("  ")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	io.WriteString(w, b.String())
}
