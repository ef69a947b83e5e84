package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// argKind says how a command's arguments are read, for completion and for
// the checks that `set`, `show` and `run` need beyond the usage string.
type argKind int

const (
	argsPlain         argKind = iota
	argsSet                   // set: path words, then maybe a value
	argsDelete                // delete: path words
	argsShowCandidate         // show in configure mode: path words, may be piped to compare
	argsShowRunning           // show config: path words in the running configuration
	argsCommand               // run, help: the arguments are themselves a command line
)

type command struct {
	Command
	kind argKind
	// control commands change the session's mode or end it; `run` refuses
	// them so that a configure session cannot leave itself half-way.
	control bool
	// target is the mode whose commands an argsCommand names; -1 = the
	// session's current mode.
	target Mode
}

func (c *command) usage() string {
	u := strings.Join(c.Words, " ")
	if c.Args != "" {
		u += " " + c.Args
	}
	return u
}

func (c *command) availableIn(m Mode) bool {
	return c.Modes == nil || slices.Contains(c.Modes, m)
}

// groupHelp describes first words shared by several commands.
var groupHelp = map[string]string{
	"show":    "show status or configuration",
	"commit":  "apply the candidate configuration",
	"compare": "compare the candidate with another configuration",
	"exit":    "leave configure mode",
}

var (
	opOnly   = []Mode{Operational}
	confOnly = []Mode{Configure}
)

// register merges the built-ins with the daemon's commands, per mode. A
// registered command is hidden where a built-in has the same words, or
// where a built-in taking arguments is a prefix of it: in configure mode
// `show` takes a configuration path, so "show version" would be ambiguous;
// such commands stay reachable as `run show version`.
func (c *Console) register(cmds []Command) {
	builtins := append(c.operationalBuiltins(), c.configureBuiltins()...)
	var valid []*command
	for _, rc := range cmds {
		if err := validCommand(rc); err != nil {
			c.log.Warn("command skipped", "words", strings.Join(rc.Words, " "), "err", err)
			continue
		}
		valid = append(valid, &command{Command: rc})
	}
	for _, mode := range []Mode{Operational, Configure} {
		var list []*command
		for _, b := range builtins {
			if b.availableIn(mode) {
				list = append(list, b)
			}
		}
		// Only built-ins hide: among registered commands fixed words win
		// over arguments ("show wan history" next to "show wan [N]").
		shown := slices.Clone(list)
		for _, rc := range valid {
			if !rc.availableIn(mode) {
				continue
			}
			by := hiddenBy(shown, rc)
			if by == nil {
				by = sameWords(list, rc)
			}
			if by != nil {
				c.log.Debug("command hidden by another", "mode", mode.String(),
					"words", strings.Join(rc.Words, " "), "by", by.usage())
				continue
			}
			list = append(list, rc)
		}
		slices.SortStableFunc(list, func(a, b *command) int {
			return strings.Compare(strings.Join(a.Words, " "), strings.Join(b.Words, " "))
		})
		c.cmds[mode] = list
	}
}

func validCommand(rc Command) error {
	if len(rc.Words) == 0 {
		return errors.New("no words")
	}
	if rc.Run == nil {
		return errors.New("no Run function")
	}
	for _, w := range rc.Words {
		if w == "" || quoteWord(w) != w || strings.HasPrefix(w, "<") {
			return fmt.Errorf("word %q cannot be typed as one word", w)
		}
	}
	return nil
}

func hiddenBy(list []*command, rc *command) *command {
	for _, b := range list {
		if len(b.Words) > len(rc.Words) || !slices.Equal(b.Words, rc.Words[:len(b.Words)]) {
			continue
		}
		if len(b.Words) == len(rc.Words) || b.Args != "" {
			return b
		}
	}
	return nil
}

// sameWords returns the command in list with exactly rc's words.
func sameWords(list []*command, rc *command) *command {
	for _, b := range list {
		if slices.Equal(b.Words, rc.Words) {
			return b
		}
	}
	return nil
}

// walker follows fixed command words through the registry of one mode.
type walker struct {
	cands []*command
	words []string // the full words consumed so far
}

func newWalker(cmds []*command, noControl bool) *walker {
	w := &walker{}
	for _, c := range cmds {
		if !(noControl && c.control) {
			w.cands = append(w.cands, c)
		}
	}
	return w
}

// options returns the distinct words that may come next.
func (wk *walker) options() []string {
	d := len(wk.words)
	var out []string
	for _, c := range wk.cands {
		if len(c.Words) > d && !slices.Contains(out, c.Words[d]) {
			out = append(out, c.Words[d])
		}
	}
	slices.Sort(out)
	return out
}

// optionHelp describes the next word opt.
func (wk *walker) optionHelp(opt string) string {
	d := len(wk.words)
	first := ""
	for _, c := range wk.cands {
		if len(c.Words) <= d || c.Words[d] != opt {
			continue
		}
		if len(c.Words) == d+1 {
			return c.Help
		}
		if first == "" {
			first = c.Help
		}
	}
	if h, ok := groupHelp[opt]; ok && d == 0 {
		return h
	}
	return first
}

// step consumes w as the next fixed word: an exact word, or a unique
// prefix of one. It reports false when w is not a command word (it may be
// an argument).
func (wk *walker) step(w string) (bool, error) {
	opts := wk.options()
	choice := ""
	if slices.Contains(opts, w) {
		choice = w
	} else {
		var m []string
		for _, o := range opts {
			if w != "" && strings.HasPrefix(o, w) {
				m = append(m, o)
			}
		}
		switch len(m) {
		case 0:
			return false, nil
		case 1:
			choice = m[0]
		default:
			return false, fmt.Errorf("ambiguous %q: could be %s", strings.Join(append(slices.Clone(wk.words), w), " "), strings.Join(m, ", "))
		}
	}
	d := len(wk.words)
	var next []*command
	for _, c := range wk.cands {
		if len(c.Words) > d && c.Words[d] == choice {
			next = append(next, c)
		}
	}
	wk.cands = next
	wk.words = append(wk.words, choice)
	return true, nil
}

// ended returns the command whose words are exactly those consumed.
func (wk *walker) ended() *command {
	for _, c := range wk.cands {
		if len(c.Words) == len(wk.words) {
			return c
		}
	}
	return nil
}

// walk consumes as many of words as are fixed command words.
func (wk *walker) walk(words []string) (int, error) {
	for i, w := range words {
		ok, err := wk.step(w)
		if err != nil {
			return i, err
		}
		if !ok {
			return i, nil
		}
	}
	return len(words), nil
}

// lookup finds the command named by the first words and returns the rest
// as its arguments. Fixed words win over arguments: with both `compare` and
// `compare rollback N`, "compare r" is the latter.
func (c *Console) lookup(mode Mode, words []string) (*command, []string, error) {
	return c.lookupIn(mode, words, false)
}

func (c *Console) lookupIn(mode Mode, words []string, noControl bool) (*command, []string, error) {
	if len(words) == 0 {
		return nil, nil, errors.New("missing command")
	}
	wk := newWalker(c.cmds[mode], noControl)
	i, err := wk.walk(words)
	if err != nil {
		return nil, nil, err
	}
	if cmd := wk.ended(); cmd != nil {
		return cmd, words[i:], nil
	}
	prefix := strings.Join(wk.words, " ")
	switch {
	case i == 0:
		return nil, nil, c.unknown(mode, words, noControl)
	case i < len(words):
		return nil, nil, fmt.Errorf("unknown word %q after %q: expected %s", words[i], prefix, strings.Join(wk.options(), ", "))
	default:
		return nil, nil, fmt.Errorf("incomplete command %q: expected %s", prefix, strings.Join(wk.options(), ", "))
	}
}

// unknown explains a first word that is not a command here, pointing to
// the other mode when the command lives there.
func (c *Console) unknown(mode Mode, words []string, noControl bool) error {
	other := Configure
	if mode == Configure {
		other = Operational
	}
	if !noControl {
		wk := newWalker(c.cmds[other], false)
		if _, err := wk.walk(words); err == nil && wk.ended() != nil {
			cmd := wk.ended()
			name := strings.Join(cmd.Words, " ")
			switch {
			case mode == Configure && cmd.control:
				return fmt.Errorf("%q: already in configure mode", name)
			case mode == Configure:
				return fmt.Errorf("%q is an operational command: use `run %s`", name, strings.Join(words, " "))
			default:
				return fmt.Errorf("%q is a configure mode command: type `configure` first", name)
			}
		}
	}
	return fmt.Errorf("unknown command %q: type ? or help for the list", words[0])
}

// argBounds reads a usage string: words outside brackets are required,
// "..." takes any number.
func argBounds(spec string) (lo, hi int) {
	depth := 0
	for _, f := range strings.Fields(spec) {
		if strings.HasPrefix(f, "[") {
			depth++
		}
		if depth == 0 {
			lo++
		}
		if hi >= 0 {
			hi++
		}
		if strings.Contains(f, "...") {
			hi = -1
		}
		if strings.HasSuffix(f, "]") && depth > 0 {
			depth--
		}
	}
	return lo, hi
}

func argsFit(c *command, n int) bool {
	lo, hi := argBounds(c.Args)
	return n >= lo && (hi < 0 || n <= hi)
}

func checkArgs(c *command, args []string) error {
	lo, hi := argBounds(c.Args)
	switch {
	case len(args) < lo:
		return fmt.Errorf("missing argument: usage: %s", c.usage())
	case hi >= 0 && len(args) > hi && c.Args == "":
		return fmt.Errorf("%q takes no arguments, got %q", strings.Join(c.Words, " "), strings.Join(args, " "))
	case hi >= 0 && len(args) > hi:
		return fmt.Errorf("too many arguments: usage: %s", c.usage())
	}
	return nil
}

// dispatch runs a command line given as words (from `run`), refusing the
// commands that change the session's mode.
func (s *Session) dispatch(ctx context.Context, mode Mode, words []string, w io.Writer) error {
	cmd, args, err := s.c.lookup(mode, words)
	if err != nil {
		return err
	}
	if cmd.control {
		return fmt.Errorf("%q cannot be used with run", strings.Join(cmd.Words, " "))
	}
	if err := checkArgs(cmd, args); err != nil {
		return err
	}
	return cmd.Run(ctx, s, args, w)
}

func (c *Console) operationalBuiltins() []*command {
	return []*command{
		{Command: Command{
			Words: []string{"configure"}, Modes: opOnly,
			Help: "edit a private candidate copy of the running configuration",
			Run: func(_ context.Context, s *Session, _ []string, w io.Writer) error {
				return s.enterConfigure(w)
			},
		}, control: true},
		{Command: Command{
			Words: []string{"show", "config"}, Args: "[PATH...]", Modes: opOnly,
			Help: "the running configuration, or the part at PATH",
			Run: func(_ context.Context, s *Session, args []string, w io.Writer) error {
				return s.showDoc(s.c.cfg.Running(), args, w)
			},
		}, kind: argsShowRunning},
		{Command: Command{
			Words: []string{"confirm"},
			Help:  "keep the configuration of a pending `commit confirmed`",
			Run: func(ctx context.Context, s *Session, _ []string, w io.Writer) error {
				msg, err := s.c.cfg.Confirm(ctx)
				if err != nil {
					return fmt.Errorf("confirm failed: %w", err)
				}
				s.c.log.Info("confirmed", "session", s.name)
				writeLine(w, msg)
				return nil
			},
		}},
		{Command: Command{
			Words: []string{"help"}, Args: "[COMMAND...]",
			Help: "list the commands of this mode (type ? for the next words)",
			Run: func(_ context.Context, s *Session, args []string, w io.Writer) error {
				return s.c.writeHelp(s.mode, args, w)
			},
		}, kind: argsCommand, target: -1},
		{Command: Command{Words: []string{"exit"}, Modes: opOnly, Help: "end this session", Run: endSession}, control: true},
		{Command: Command{Words: []string{"quit"}, Modes: opOnly, Help: "end this session", Run: endSession}, control: true},
	}
}

// endSession ends socket sessions; on the serial console there is nothing
// to return to, so exit only gives a new prompt.
func endSession(_ context.Context, s *Session, _ []string, _ io.Writer) error {
	if s.allowExit {
		s.ended = true
	}
	return nil
}

// writeHelp lists the commands of mode whose words start with filter.
func (c *Console) writeHelp(mode Mode, filter []string, w io.Writer) error {
	var rows [][2]string
	width := 0
	for _, cmd := range c.cmds[mode] {
		if !matchesFilter(cmd.Words, filter) {
			continue
		}
		u := cmd.usage()
		width = max(width, len(u))
		rows = append(rows, [2]string{u, cmd.Help})
	}
	if len(rows) == 0 {
		return fmt.Errorf("no %s mode command starts with %q", mode, strings.Join(filter, " "))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s mode commands:\n", capitalize(mode.String()))
	for _, r := range rows {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, r[0], r[1])
	}
	if mode == Configure {
		b.WriteString("Operational commands run from here with `run COMMAND...`.\n")
	}
	b.WriteString("Words may be abbreviated; ? lists the next words, Tab completes.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func matchesFilter(words, filter []string) bool {
	if len(filter) > len(words) {
		return false
	}
	for i, f := range filter {
		if !strings.HasPrefix(words[i], f) {
			return false
		}
	}
	return true
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// writeLine writes s with exactly one trailing newline; nothing for "".
func writeLine(w io.Writer, s string) {
	if s == "" {
		return
	}
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	io.WriteString(w, s)
}
