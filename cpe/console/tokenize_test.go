package console

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestLex(t *testing.T) {
	tests := []struct {
		line    string
		want    []string // pipes written as "<|>"
		comment bool
		err     string
	}{
		{line: "", want: nil},
		{line: "   \t ", want: nil},
		{line: "  show   version ", want: []string{"show", "version"}},
		{line: `set system hostname "my box"`, want: []string{"set", "system", "hostname", "my box"}},
		{line: `set x 'a "b" \c'`, want: []string{"set", "x", `a "b" \c`}},
		{line: `set x "a \"q\" \\ b"`, want: []string{"set", "x", `a "q" \ b`}},
		{line: `set x "\n"`, want: []string{"set", "x", "n"}},
		{line: `set x a\b`, want: []string{"set", "x", `a\b`}},
		{line: `a"b c"d`, want: []string{"ab cd"}},
		{line: `""`, want: []string{""}},
		{line: `show|compare`, want: []string{"show", "<|>", "compare"}},
		{line: `show | compare`, want: []string{"show", "<|>", "compare"}},
		{line: `show "|" '|'`, want: []string{"show", "|", "|"}},
		{line: `set a#b`, want: []string{"set", "a#b"}},
		{line: "set\tx\r\n", want: []string{"set", "x"}},
		{line: "# a comment", comment: true},
		{line: "   #set x", comment: true},
		{line: `"#"`, want: []string{"#"}},
		{line: `set x "unterminated`, err: `unterminated " quote`},
		{line: `set x 'unterminated`, err: `unterminated ' quote`},
		{line: `set x "trailing\`, err: `unterminated " quote`},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			lx, err := lex(tt.line, false)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if _, err := lex(tt.line, true); err != nil {
					t.Errorf("partial lex failed: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if lx.comment != tt.comment {
				t.Errorf("comment = %v, want %v", lx.comment, tt.comment)
			}
			var got []string
			for _, tok := range lx.toks {
				if tok.pipe {
					got = append(got, "<|>")
				} else {
					got = append(got, tok.text)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("words = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLexPartial(t *testing.T) {
	tests := []struct {
		line        string
		open, space bool
		last        string
		start       int
	}{
		{line: "", space: true},
		{line: "sh", last: "sh", start: 0},
		{line: "show ", space: true, last: "show"},
		{line: `set x "my b`, open: true, last: "my b", start: 6},
		{line: `set x "my b" `, space: true, last: "my b", start: 6},
	}
	for _, tt := range tests {
		lx, err := lex(tt.line, true)
		if err != nil {
			t.Fatalf("%q: %v", tt.line, err)
		}
		if lx.open != tt.open || lx.space != tt.space {
			t.Errorf("%q: open, space = %v, %v; want %v, %v", tt.line, lx.open, lx.space, tt.open, tt.space)
		}
		if tt.last != "" {
			l := lx.toks[len(lx.toks)-1]
			if l.text != tt.last || (!tt.space && l.start != tt.start) {
				t.Errorf("%q: last token %q at %d, want %q at %d", tt.line, l.text, l.start, tt.last, tt.start)
			}
		}
	}
}

func TestQuoteWordRoundTrip(t *testing.T) {
	words := []string{"plain", "", "two words", `q"uote`, `back\slash`, "pi|pe", "what?", "#hash", "it's", "tab\there", "é"}
	for _, w := range words {
		got, err := tokenize(quoteWord(w))
		if err != nil || len(got) != 1 || got[0] != w {
			t.Errorf("quoteWord(%q) = %s, reads back as %q, %v", w, quoteWord(w), got, err)
		}
	}
	if got := joinWords([]string{"show", "|", "compare", "?"}); got != "show | compare ?" {
		t.Errorf("joinWords keeps pipes and help bare: got %q", got)
	}
	if got := joinWords([]string{"set", "system", "hostname", "my box"}); got != `set system hostname "my box"` {
		t.Errorf("joinWords = %q", got)
	}
}

func TestHelpRequest(t *testing.T) {
	tests := []struct {
		line, before string
		ok           bool
	}{
		{"?", "", true},
		{"show ?", "show ", true},
		{"sh?  ", "sh", true},
		{`set x "a?"`, "", false},
		{`set x "a ?`, "", false},
		{"# comment ?", "", false},
		{"show", "", false},
	}
	for _, tt := range tests {
		before, ok := helpRequest(tt.line)
		if ok != tt.ok || before != tt.before {
			t.Errorf("helpRequest(%q) = %q, %v; want %q, %v", tt.line, before, ok, tt.before, tt.ok)
		}
	}
}

func TestLookup(t *testing.T) {
	c := newTestConsole(newFakeConfig(initialDoc), &recorder{})
	tests := []struct {
		mode Mode
		line string
		cmd  string // usage of the command found
		args []string
		err  string
	}{
		{mode: Operational, line: "sh ver", cmd: "show version"},
		{mode: Operational, line: "show version", cmd: "show version"},
		{mode: Operational, line: "sh conf wan 0", cmd: "show config [PATH...]", args: []string{"wan", "0"}},
		{mode: Operational, line: "show lo 5", cmd: "show log [N]", args: []string{"5"}},
		{mode: Operational, line: "config", cmd: "configure"},
		{mode: Operational, line: "conf", err: `ambiguous "conf": could be configure, confirm`},
		{mode: Operational, line: "show co", err: `ambiguous "show co": could be commits, config`},
		{mode: Operational, line: "show", err: `incomplete command "show": expected commits, config, log, version`},
		{mode: Operational, line: "show bogus", err: `unknown word "bogus" after "show": expected commits, config, log, version`},
		{mode: Operational, line: "frob", err: `unknown command "frob"`},
		{mode: Operational, line: "set x 1", err: `"set" is a configure mode command: type ` + "`configure`"},
		{mode: Operational, line: "show version now", err: `"show version" takes no arguments, got "now"`},
		{mode: Operational, line: "show log 1 2", err: "too many arguments: usage: show log [N]"},
		{mode: Configure, line: "s", err: `ambiguous "s": could be set, show`},
		{mode: Configure, line: "sh wan 0", cmd: "show [PATH...]", args: []string{"wan", "0"}},
		// In configure mode show takes paths: the registered show commands
		// are hidden and "version" is a path word.
		{mode: Configure, line: "show version", cmd: "show [PATH...]", args: []string{"version"}},
		{mode: Configure, line: "compare", cmd: "compare"},
		{mode: Configure, line: "compare r 1", cmd: "compare rollback N", args: []string{"1"}},
		{mode: Configure, line: "compare rollback", err: "missing argument: usage: compare rollback N"},
		{mode: Configure, line: "commit c", err: `ambiguous "commit c": could be check, comment, confirmed`},
		{mode: Configure, line: "commit conf 5", cmd: "commit confirmed MINUTES [comment TEXT...]", args: []string{"5"}},
		{mode: Configure, line: "com", err: `ambiguous "com": could be commit, compare`},
		{mode: Configure, line: "set", err: "missing argument: usage: set PATH... [VALUE]"},
		{mode: Configure, line: "ex d", cmd: "exit discard"},
		{mode: Configure, line: "reboot", err: `"reboot" is an operational command: use ` + "`run reboot`"},
		{mode: Configure, line: "echo hi", cmd: "echo [WORDS...]", args: []string{"hi"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.mode, tt.line), func(t *testing.T) {
			words, err := tokenize(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			cmd, args, err := c.lookup(tt.mode, words)
			if err == nil {
				err = checkArgs(cmd, args)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cmd.usage() != tt.cmd || !slices.Equal(args, tt.args) {
				t.Errorf("got %q %q, want %q %q", cmd.usage(), args, tt.cmd, tt.args)
			}
		})
	}
}

func TestExecErrors(t *testing.T) {
	ctx := context.Background()
	cfg := newFakeConfig(initialDoc)
	c := newTestConsole(cfg, &recorder{})
	tests := []struct {
		line, want string
	}{
		{"", ""},
		{"# just a comment", ""},
		{"show version", "cpe test\n"},
		{"sh ver", "cpe test\n"},
		{`show "version`, "error: unterminated \" quote\n"},
		{"show version | compare", "error: pipes are only supported as `show [PATH...] | compare` in configure mode\n"},
		{"| compare", "error: missing command before |\n"},
		{"frob", "error: unknown command \"frob\": type ? or help for the list\n"},
		{strings.Repeat("x", maxExecLine+1), fmt.Sprintf("error: line too long: %d bytes, at most %d\n", maxExecLine+1, maxExecLine)},
	}
	for _, tt := range tests {
		s := c.NewSession()
		var out strings.Builder
		err := s.Exec(ctx, tt.line, &out)
		if out.String() != tt.want {
			t.Errorf("%.40q: output %q, want %q", tt.line, out.String(), tt.want)
		}
		if (err != nil) != strings.HasPrefix(tt.want, "error: ") {
			t.Errorf("%.40q: err = %v", tt.line, err)
		}
	}
	if calls := cfg.callLog(); len(calls) != 0 {
		t.Errorf("configurator called: %q", calls)
	}
}

func TestRegisterSkipsBadCommands(t *testing.T) {
	run := func(context.Context, *Session, []string, io.Writer) error { return nil }
	c := New(fakeSchema{}, newFakeConfig(initialDoc), []Command{
		{Words: nil, Run: run},
		{Words: []string{"show", "x"}},                                  // no Run
		{Words: []string{"two words"}, Run: run},                        // not typeable
		{Words: []string{"configure"}, Run: run, Help: "shadowed"},      // same as a built-in
		{Words: []string{"show", "config", "extra"}, Run: run},          // below a built-in with arguments
		{Words: []string{"status"}, Run: run, Help: "kept"},             // fine
		{Words: []string{"status"}, Run: run, Modes: []Mode{Configure}}, // duplicate in configure mode
	}, Options{})
	var got []string
	for _, cmd := range c.cmds[Operational] {
		got = append(got, cmd.usage()+"="+cmd.Help)
	}
	want := []string{
		"configure=edit a private candidate copy of the running configuration",
		"confirm=keep the configuration of a pending `commit confirmed`",
		"exit=end this session",
		"help [COMMAND...]=list the commands of this mode (type ? for the next words)",
		"quit=end this session",
		"show config [PATH...]=the running configuration, or the part at PATH",
		"status=kept",
	}
	if !slices.Equal(got, want) {
		t.Errorf("operational commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	n := 0
	for _, cmd := range c.cmds[Configure] {
		if cmd.Words[0] == "status" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("configure mode has %d status commands, want 1", n)
	}
}
