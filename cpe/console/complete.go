package console

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// enterWord is listed by ? when the line can be run as it is.
const enterWord = "<[Enter]>"

// completions is what may replace the word being typed.
type completions struct {
	items    []Completion
	partial  string // the word being typed, unquoted; "" after a space
	start    int    // its byte offset in the line
	quoted   bool   // it has quotes: Tab cannot extend it in place
	describe string // Schema.Describe of the path, when completing a path
}

// candidates works out what may come at the end of before (the text left
// of the cursor): command words of the session's mode, path words from the
// Schema, a command's own argument completions.
func (s *Session) candidates(before string) (completions, error) {
	var cs completions
	lx, err := lex(before, true)
	if err != nil || lx.comment {
		return cs, err
	}
	toks := lx.toks
	cs.start = len(before)
	if n := len(toks); !lx.space && n > 0 && !toks[n-1].pipe {
		last := toks[n-1]
		cs.partial, cs.start, cs.quoted = last.text, last.start, last.quoted || lx.open
		toks = toks[:n-1]
	}
	words, pipe, hasPipe, err := splitPipe(toks)
	if err != nil {
		return cs, err
	}
	if hasPipe {
		if len(words) == 0 {
			return cs, errors.New("missing command before |")
		}
		cmd, _, err := s.c.lookup(s.mode, words)
		if err != nil {
			return cs, err
		}
		if cmd.kind != argsShowCandidate {
			return cs, errors.New("pipes are only supported as `show [PATH...] | compare` in configure mode")
		}
		switch {
		case len(pipe) == 0:
			cs.items = filterItems([]Completion{{"compare", "differences from the running configuration"}}, cs.partial)
		case checkPipe(pipe) == nil && cs.partial == "":
			cs.items = []Completion{{enterWord, "run this command"}}
		}
		return cs, nil
	}
	cs.items, cs.describe, err = s.next(s.mode, words, cs.partial, false)
	return cs, err
}

// next lists what may follow words in mode, filtered by the partial word.
func (s *Session) next(mode Mode, words []string, partial string, noControl bool) ([]Completion, string, error) {
	wk := newWalker(s.c.cmds[mode], noControl)
	i, err := wk.walk(words)
	if err != nil {
		return nil, "", err
	}
	cmd, args := wk.ended(), words[i:]
	if cmd == nil && (i < len(words) || len(wk.options()) == 0) {
		_, _, err := s.c.lookupIn(mode, words, noControl)
		return nil, "", err
	}
	var items []Completion
	describe := ""
	switch {
	case cmd != nil && cmd.kind == argsCommand:
		// run and help take a command line: complete that one.
		items, describe, err = s.next(s.targetMode(cmd), args, partial, cmd.Words[0] == "run")
		if err != nil || len(args) > 0 {
			return items, describe, err
		}
	default:
		if len(args) == 0 {
			for _, o := range wk.options() {
				if strings.HasPrefix(o, partial) {
					items = append(items, Completion{o, wk.optionHelp(o)})
				}
			}
		}
		if cmd == nil {
			break
		}
		_, hi := argBounds(cmd.Args)
		if hi >= 0 && len(args) > hi {
			return nil, "", checkArgs(cmd, args)
		}
		if hi < 0 || len(args) < hi {
			argItems, d := s.argCompletions(cmd, args, partial)
			items, describe = append(items, argItems...), d
		}
	}
	if cmd != nil && partial == "" && argsFit(cmd, len(args)) && s.wouldRun(cmd, args) {
		items = append([]Completion{{enterWord, "run this command"}}, items...)
	}
	return items, describe, nil
}

// wouldRun tries a path command on a copy of the document, so that ? offers
// Enter only where the line would work: "set wan 0 mode" needs a value,
// "set mesh" does not.
func (s *Session) wouldRun(cmd *command, args []string) bool {
	var err error
	switch cmd.kind {
	case argsSet:
		n := len(args)
		if _, err = s.c.schema.Set(s.candidate, args[:n-1], args[n-1]); err != nil {
			_, err = s.c.schema.Set(s.candidate, args, "")
		}
	case argsDelete:
		_, err = s.c.schema.Delete(s.candidate, args)
	case argsShowCandidate, argsShowRunning:
		if len(args) > 0 {
			doc := s.candidate
			if cmd.kind == argsShowRunning {
				doc = s.c.cfg.Running()
			}
			_, err = s.c.schema.Get(doc, args)
		}
	}
	return err == nil
}

func (s *Session) targetMode(cmd *command) Mode {
	if cmd.target < 0 {
		return s.mode
	}
	return cmd.target
}

// argCompletions lists the candidates for a command's next argument.
func (s *Session) argCompletions(cmd *command, args []string, partial string) ([]Completion, string) {
	var items []Completion
	describe := ""
	switch cmd.kind {
	case argsSet, argsDelete, argsShowCandidate, argsShowRunning:
		doc := s.candidate
		if cmd.kind == argsShowRunning {
			doc = s.c.cfg.Running()
		}
		items = slices.Clone(s.c.schema.Complete(doc, args))
		if len(args) > 0 {
			if d, err := s.c.schema.Describe(args); err == nil {
				describe = strings.TrimSpace(d)
			}
		}
		if cmd.kind == argsShowCandidate && partial == "" {
			items = append(items, Completion{"|", "pipe to compare: differences from the running configuration"})
		}
	default:
		if cmd.Complete != nil {
			items = cmd.Complete(args)
		}
	}
	return filterItems(items, partial), describe
}

// filterItems keeps the words that start with partial; placeholders stay,
// since they describe what is expected whatever was typed.
func filterItems(items []Completion, partial string) []Completion {
	var out []Completion
	for _, it := range items {
		if isPlaceholder(it.Word) || strings.HasPrefix(it.Word, partial) {
			out = append(out, it)
		}
	}
	return out
}

func isPlaceholder(w string) bool { return strings.HasPrefix(w, "<") }

// tabWords are the candidates Tab may insert: real words, no placeholders
// nor the pipe.
func (cs completions) tabWords() []string {
	var out []string
	for _, it := range cs.items {
		if isPlaceholder(it.Word) || it.Word == "|" || it.Word == "" || slices.Contains(out, it.Word) {
			continue
		}
		out = append(out, it.Word)
	}
	return out
}

// listHelp answers a line ending with "?".
func (s *Session) listHelp(before string, w io.Writer) error {
	cs, err := s.candidates(before)
	if err != nil {
		return err
	}
	writeListing(w, cs)
	return nil
}

func writeListing(w io.Writer, cs completions) {
	var b strings.Builder
	if cs.describe != "" {
		b.WriteString(cs.describe)
		b.WriteByte('\n')
	}
	if len(cs.items) == 0 {
		b.WriteString("no possible completions\n")
	} else {
		writeItems(&b, cs.items)
	}
	io.WriteString(w, b.String())
}

func writeItems(b *strings.Builder, items []Completion) {
	b.WriteString("Possible completions:\n")
	width := 0
	for _, it := range items {
		width = max(width, len(it.Word))
	}
	for _, it := range items {
		if it.Help == "" {
			fmt.Fprintf(b, "  %s\n", it.Word)
		} else {
			fmt.Fprintf(b, "  %-*s  %s\n", width, it.Word, it.Help)
		}
	}
}

func longestCommonPrefix(words []string) string {
	if len(words) == 0 {
		return ""
	}
	p := words[0]
	for _, w := range words[1:] {
		for !strings.HasPrefix(w, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}
