package console

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a screen that tests may read while the session writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runTerminal feeds input to a terminal session until EOF and returns the
// screen output. Inputs shorter than the read buffer arrive as one chunk.
func runTerminal(t *testing.T, c *Console, input string, allowExit bool) string {
	t.Helper()
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var screen bytes.Buffer
	err := c.serveTerminal(ctx, strings.NewReader(input), &screen, termOptions{kind: "test", allowExit: allowExit})
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("terminal session did not end at EOF")
	}
	return screen.String()
}

func TestEditorLines(t *testing.T) {
	long := strings.Repeat("a", 5000)
	tests := []struct {
		name, input string
		want        []string // what echo was run with
	}{
		{"enter CR", "echo abc\r", []string{"abc"}},
		{"enter LF", "echo abc\n", []string{"abc"}},
		{"CRLF is one enter", "echo abc\r\necho def\r\n", []string{"abc", "def"}},
		{"LF LF is two", "echo a\n\necho b\n", []string{"a", "b"}},
		{"backspace DEL", "echo abx\x7fc\r", []string{"abc"}},
		{"backspace BS", "echo abx\x08c\r", []string{"abc"}},
		{"backspace at start", "\x7f\x7fecho a\r", []string{"a"}},
		{"ctrl-a", "cho x\x01e\r", []string{"x"}},
		{"ctrl-e", "echo x\x01\x05y\r", []string{"xy"}},
		{"ctrl-b ctrl-f", "echo ac\x02b\x06d\r", []string{"abcd"}},
		{"left arrow", "echo ac\x1b[Db\r", []string{"abc"}},
		{"right arrow", "echo ac\x1b[D\x1b[Cb\r", []string{"acb"}},
		{"ss3 arrows", "echo ac\x1bODb\x1bOCd\r", []string{"abcd"}},
		{"ctrl-left is left", "echo ac\x1b[1;5Db\r", []string{"abc"}},
		{"home end CSI", "cho z\x1b[He\x1b[F!\r", []string{"z!"}},
		{"home end SS3", "cho z\x1bOHe\x1bOF!\r", []string{"z!"}},
		{"home end tilde", "cho z\x1b[1~e\x1b[4~!\r", []string{"z!"}},
		{"home end 7 8", "cho z\x1b[7~e\x1b[8~!\r", []string{"z!"}},
		{"delete key", "echo abc\x1b[D\x1b[D\x1b[3~\r", []string{"ac"}},
		{"ctrl-d deletes under cursor", "echo abc\x1b[D\x04\r", []string{"ab"}},
		{"ctrl-k", "echo abcdef\x02\x02\x02\x0b\r", []string{"abc"}},
		{"ctrl-u", "garbage\x15echo ok\r", []string{"ok"}},
		{"ctrl-u mid-line", "xxecho ok\x01\x06\x06\x15\r", []string{"ok"}},
		{"ctrl-w", "echo one two\x17three\r", []string{"one three"}},
		{"ctrl-w trailing blanks", "echo one two  \x17\r", []string{"one"}},
		{"ctrl-c cancels", "echo no\x03echo yes\r", []string{"yes"}},
		{"history up", "echo one\recho two\r\x1b[A\x1b[A\r", []string{"one", "two", "one"}},
		{"history ctrl-p", "echo one\r\x10\r", []string{"one", "one"}},
		{"history down to draft", "echo one\recho t\x1b[A\x1b[B\r", []string{"one", "t"}},
		{"history no dups", "echo one\recho one\recho two\r\x1b[A\x1b[A\r", []string{"one", "one", "two", "one"}},
		{"history edit", "echo one\r\x1b[A!\r", []string{"one", "one!"}},
		{"history top stays", "echo one\r\x1b[A\x1b[A\x1b[A\r", []string{"one", "one"}},
		{"NUL and controls ignored", "\x00ec\x07ho\x1c \x00ok\r", []string{"ok"}},
		{"unknown CSI ignored", "echo \x1b[99;99Zok\r", []string{"ok"}},
		{"overlong CSI ignored", "echo \x1b[123456789012345678901234Aok\r", []string{"ok"}},
		{"CSI intermediate ignored", "echo \x1b[ qok\r", []string{"ok"}},
		{"alt-key ignored", "echo \x1bxok\r", []string{"ok"}},
		{"double ESC", "echo o\x1b\x1b[Ck\r", []string{"ok"}},
		{"control breaks CSI", "echo ok\x1b[\r", []string{"ok"}},
		{"utf-8", "echo h\xc3\xa9\r", []string{"hé"}},
		{"utf-8 backspace", "echo h\xc3\xa9\x7f\r", []string{"h"}},
		{"bad utf-8 dropped", "echo a\xff\xc3b\r", []string{"ab"}},
		{"C1 controls dropped", "echo a\xc2\x85b\r", []string{"ab"}},
		{"long line capped", "echo " + long + "\r", []string{long[:maxEditLine-len("echo ")]}},
		{"tab unique", "ech\thi\r", []string{"hi"}},
		{"tab none keeps line", "echo x\t\r", []string{"x"}},
		{"question mark does not insert", "echo a?b\r", []string{"ab"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			runTerminal(t, newTestConsole(newFakeConfig(initialDoc), rec), tt.input, true)
			if got := rec.get(); !slices.Equal(got, tt.want) {
				t.Errorf("ran echo with %.80q, want %.80q", got, tt.want)
			}
		})
	}
}

func TestEditorScreen(t *testing.T) {
	tests := []struct {
		name, input, want string
		allowExit         bool
	}{
		{
			name:  "echo and crlf output",
			input: "echo a\r",
			want:  "cpe> echo a\r\nECHO a\r\ncpe> ",
		},
		{
			name:  "insert mid-line redraws",
			input: "ac\x1b[Db",
			want:  "cpe> ac\rcpe> ac\x1b[K\x1b[1D\rcpe> abc\x1b[K\x1b[1D",
		},
		{
			name:  "backspace redraws",
			input: "ab\x7f",
			want:  "cpe> ab\rcpe> a\x1b[K",
		},
		{
			name:  "ctrl-c",
			input: "ab\x03",
			want:  "cpe> ab^C\r\ncpe> ",
		},
		{
			name:  "ctrl-l",
			input: "ab\x0c",
			want:  "cpe> ab\x1b[H\x1b[2J\rcpe> ab\x1b[K",
		},
		{
			name:  "tab completes a unique word",
			input: "sh\t",
			want:  "cpe> sh\rcpe> show \x1b[K",
		},
		{
			name:  "tab with several: common prefix, then the list",
			input: "con\t\t",
			want: "cpe> con\rcpe> confi\x1b[K\r\nPossible completions:\r\n" +
				"  configure  edit a private candidate copy of the running configuration\r\n" +
				"  confirm    keep the configuration of a pending `commit confirmed`\r\n" +
				"\rcpe> confi\x1b[K",
		},
		{
			name:  "tab with several and nothing to add rings first",
			input: "confi\t",
			want:  "cpe> confi\a",
		},
		{
			name:  "tab with nothing rings",
			input: "zz\t",
			want:  "cpe> zz\a",
		},
		{
			name:  "question mark lists and redraws",
			input: "show v?",
			want:  "cpe> show v\r\nPossible completions:\r\n  version  build version\r\n\rcpe> show v\x1b[K",
		},
		{
			name:  "question mark on an error",
			input: "frob ?",
			want:  "cpe> frob \r\nerror: unknown command \"frob\": type ? or help for the list\r\n\rcpe> frob \x1b[K",
		},
		{
			name:  "mode change changes the prompt",
			input: "configure\rexit\r",
			want:  "cpe> configure\r\nentering configure mode: changes apply on `commit`\r\ncpe# exit\r\ncpe> ",
		},
		{
			name:  "error output",
			input: "frob\r",
			want:  "cpe> frob\r\nerror: unknown command \"frob\": type ? or help for the list\r\ncpe> ",
		},
		{
			name:  "serial exit gives a new prompt",
			input: "exit\recho still\r",
			want:  "cpe> exit\r\ncpe> echo still\r\nECHO still\r\ncpe> ",
		},
		{
			name:      "socket exit ends",
			input:     "exit\recho never\r",
			want:      "cpe> exit\r\n",
			allowExit: true,
		},
		{
			name:  "serial ctrl-d rings",
			input: "\x04echo x\r",
			want:  "cpe> \aecho x\r\nECHO x\r\ncpe> ",
		},
		{
			name:      "socket ctrl-d ends",
			input:     "\x04echo never\r",
			want:      "cpe> \r\n",
			allowExit: true,
		},
		{
			name:  "output without a final newline",
			input: "nonl\r",
			want:  "cpe> nonl\r\npartial\r\ncpe> ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nonl := Command{Words: []string{"nonl"}, Run: func(_ context.Context, _ *Session, _ []string, w io.Writer) error {
				_, err := io.WriteString(w, "partial")
				return err
			}}
			c := newTestConsole(newFakeConfig(initialDoc), &recorder{}, nonl)
			if got := runTerminal(t, c, tt.input, tt.allowExit); got != tt.want {
				t.Errorf("screen\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestEditorSession is a whole configure session typed with Tab, history
// and ?, kept as a golden file with the escape sequences made visible.
func TestEditorSession(t *testing.T) {
	cfg := newFakeConfig(initialDoc)
	c := newTestConsole(cfg, &recorder{})
	input := "con\t\t" + "g\t\r" + // the common prefix, then the list, then unique
		"set sys\th\tr2\r" + // path words from the schema
		"set wan 0 mode s\t\r" + // an enum value
		"set wan 0 dh\tp\t5?6\r" +
		"sh\t| comp\t\r" +
		"commit\r" +
		"\x1b[A\x1b[A\x1b[A\x1b[A\x1b[B\x03" + // history walk, then cancel
		"exit\r"
	screen := runTerminal(t, c, input, false)
	var b strings.Builder
	for _, line := range strings.SplitAfter(screen, "\r\n") {
		fmt.Fprintf(&b, "%q\n", line)
	}
	checkGolden(t, "editor_session", b.String())
	if calls := cfg.callLog(); !slices.Equal(calls, []string{`commit "" within=0s`}) {
		t.Errorf("configurator calls %q", calls)
	}
	running := string(cfg.Running())
	for _, want := range []string{`"hostname": "r2"`, `"mode": "static"`, `"prefix_hint": 56`} {
		if !strings.Contains(running, want) {
			t.Errorf("running lacks %s:\n%s", want, running)
		}
	}
}

func TestTerminalCtrlCInterruptsCommand(t *testing.T) {
	checkLeaks(t)
	started := make(chan struct{})
	block := Command{Words: []string{"block"}, Run: func(ctx context.Context, _ *Session, _ []string, w io.Writer) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}}
	c := newTestConsole(newFakeConfig(initialDoc), &recorder{}, block)
	pr, pw := io.Pipe()
	var screen syncBuffer
	done := make(chan error)
	go func() { done <- c.ServeTerminal(context.Background(), pr, &screen) }()
	pw.Write([]byte("block\r"))
	<-started
	pw.Write([]byte{keyCtrlC})
	pw.Write([]byte("echo after\r"))
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := "cpe> block\r\nerror: interrupted\r\ncpe> echo after\r\nECHO after\r\ncpe> "
	if got := screen.String(); got != want {
		t.Errorf("screen\n got %q\nwant %q", got, want)
	}
}

func TestServeTerminalEndsWithContext(t *testing.T) {
	checkLeaks(t)
	c := newTestConsole(newFakeConfig(initialDoc), &recorder{})
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	var screen syncBuffer
	go func() { done <- c.ServeTerminal(ctx, pr, &screen) }()
	pw.Write([]byte("echo hi\r"))
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeTerminal did not return after ctx ended")
	}
	// An io.Pipe cannot be interrupted: its reader goroutine ends when the
	// owner closes it, as ServeTerminal documents.
	pw.Close()
}

func TestCRLFWriter(t *testing.T) {
	var b bytes.Buffer
	w := &crlfWriter{w: &b}
	for _, p := range []string{"a\nb\r\n", "\r", "\nc\n\n"} {
		w.Write([]byte(p))
	}
	if got, want := b.String(), "a\r\nb\r\n\r\nc\r\n\r\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestServeTerminalFileReusable uses a pollable *os.File, as the serial
// console is: when ctx ends the pending read is interrupted (no goroutine
// left), and the file can be served again afterwards.
func TestServeTerminalFileReusable(t *testing.T) {
	checkLeaks(t)
	c := newTestConsole(newFakeConfig(initialDoc), &recorder{})
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	for round := range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		var screen syncBuffer
		done := make(chan error)
		go func() { done <- c.ServeTerminal(ctx, pr, &screen) }()
		fmt.Fprintf(pw, "echo round%d\r", round)
		want := fmt.Sprintf("ECHO round%d\r\ncpe> ", round)
		for deadline := time.Now().Add(5 * time.Second); !strings.HasSuffix(screen.String(), want); {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: screen %q", round, screen.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			leaked := leakedGoroutines()
			if len(leaked) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: reader still running:\n%s", round, strings.Join(leaked, "\n\n"))
			}
		}
	}
}
