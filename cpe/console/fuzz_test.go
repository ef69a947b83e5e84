package console

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// FuzzTokenize checks that the lexer never fails on a partial line, and
// that what it reads can be quoted back to the same words.
func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"show version", `set x "a \"b\" c"`, "set x 'y z'", "show|compare", `"open`, "# c", "a\\b ?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if _, err := lex(line, true); err != nil {
			t.Fatalf("partial lex of %q: %v", line, err)
		}
		helpRequest(line)
		lx, err := lex(line, false)
		if err != nil || lx.comment {
			return
		}
		var parts []string
		for _, tok := range lx.toks {
			if tok.pipe {
				parts = append(parts, "|")
			} else {
				parts = append(parts, quoteWord(tok.text))
			}
		}
		again, err := lex(strings.Join(parts, " "), false)
		if err != nil {
			t.Fatalf("requoted %q: %v", parts, err)
		}
		if len(again.toks) != len(lx.toks) {
			t.Fatalf("%q: %d words, requoted %d", line, len(lx.toks), len(again.toks))
		}
		for i := range lx.toks {
			if again.toks[i].text != lx.toks[i].text || again.toks[i].pipe != lx.toks[i].pipe {
				t.Fatalf("%q: word %d %q became %q", line, i, lx.toks[i].text, again.toks[i].text)
			}
		}
	})
}

// FuzzLineEditor feeds raw bytes to a terminal session, in configure mode
// and out of it: it must neither panic nor hang.
func FuzzLineEditor(f *testing.F) {
	for _, s := range []string{
		"show version\r",
		"configure\rset wan 0 mode static\rcommit\rexit\r",
		"\x1b[A\x1b[B\x1b[C\x1b[D\x1b[3~\x1bOH\t\t?\x03",
		"con\t\tset sys\t?\x17\x15\x0b\x04",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := newTestConsole(newFakeConfig(initialDoc), &recorder{})
		for _, allowExit := range []bool{false, true} {
			err := c.serveTerminal(ctx, strings.NewReader(string(input)), io.Discard, termOptions{kind: "fuzz", allowExit: allowExit})
			if err != nil {
				t.Fatal(err)
			}
			if ctx.Err() != nil {
				t.Fatalf("terminal session hung on %q", input)
			}
		}
	})
}
