package console

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// startSocket serves c on a socket in a temporary directory until the test
// ends, and checks that ServeSocket then returns and leaves nothing behind.
func startSocket(t *testing.T, c *Console) string {
	t.Helper()
	checkLeaks(t) // registered first: runs after the shutdown below
	path := filepath.Join(t.TempDir(), "cli.sock")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.ServeSocket(ctx, path) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("ServeSocket: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("ServeSocket did not return after ctx ended")
		}
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket file left behind: %v", err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if conn, err := net.Dial("unix", path); err == nil {
			conn.Close()
			return path
		}
		select {
		case err := <-errc:
			t.Fatalf("ServeSocket: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("socket never came up")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSocketExec(t *testing.T) {
	cfg := newFakeConfig(initialDoc)
	rec := &recorder{}
	path := startSocket(t, newTestConsole(cfg, rec))

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}

	tests := []struct {
		name   string
		words  []string
		stdin  string
		code   int
		output string
	}{
		{name: "one command", words: []string{"show", "version"}, output: "cpe test\n"},
		{name: "abbreviated", words: []string{"sh", "ver"}, output: "cpe test\n"},
		{name: "quoted word", words: []string{"echo", "two words", `"q"`}, output: "ECHO two words \"q\"\n"},
		{name: "failing command", words: []string{"frob"}, code: 1, output: "error: unknown command \"frob\": type ? or help for the list\n"},
		{name: "help", words: []string{"show", "?"}, output: "Possible completions:\n  commits  stored revisions\n  config   the running configuration, or the part at PATH\n  log      recent log records\n  version  build version\n"},
		{name: "pipe word", words: []string{"show", "|", "compare"}, code: 1, output: "error: incomplete command \"show\": expected commits, config, log, version\n"},
		{
			name:  "script",
			stdin: "# set the name\nconfigure\r\nset system hostname r9\n\ncommit comment from a script\nexit\n",
			output: "entering configure mode: changes apply on `commit`\n" +
				"commit complete: revision 2\n",
		},
		{
			name:  "script stops at the first failure",
			stdin: "configure\nset wan 0 dhcp6 prefix_hint 99\ncommit\nexit\n",
			code:  1,
			output: "entering configure mode: changes apply on `commit`\n" +
				"error: wan[0].dhcp6.prefix_hint: must be between 48 and 64\n" +
				"error: stopped at line 2; 2 line(s) after it not run\n",
		},
		{
			name:  "script left in configure mode",
			stdin: "configure\nset system hostname lost\n",
			output: "entering configure mode: changes apply on `commit`\n" +
				"warning: session ended in configure mode; uncommitted changes discarded\n",
		},
		{name: "exit ends the script", stdin: "exit\necho never\n", output: ""},
		{name: "empty script", stdin: "", output: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			code, err := Client(context.Background(), path, tt.words, strings.NewReader(tt.stdin), &out, false)
			if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || out.String() != tt.output {
				t.Errorf("exit %d, output:\n%s\nwant exit %d, output:\n%s", code, out.String(), tt.code, tt.output)
			}
		})
	}
	if calls := cfg.callLog(); !slices.Equal(calls, []string{`commit "from a script" within=0s`}) {
		t.Errorf("configurator calls %q", calls)
	}
	if got := rec.get(); !slices.Equal(got, []string{`two words "q"`}) {
		t.Errorf("echo ran with %q", got)
	}
}

func TestSocketInteractive(t *testing.T) {
	path := startSocket(t, newTestConsole(newFakeConfig(initialDoc), &recorder{}))
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close() // ends the client's stdin copy
	var screen syncBuffer
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := Client(context.Background(), path, nil, stdinR, &screen, true)
		done <- result{code, err}
	}()
	stdinW.Write([]byte("sh\t ver\r"))
	stdinW.Write([]byte("exit\r"))
	var r result
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("interactive client did not end after exit")
	}
	if r.err != nil || r.code != 0 {
		t.Fatalf("exit %d, %v", r.code, r.err)
	}
	want := "cpe> sh\rcpe> show \x1b[K ver\r\ncpe test\r\ncpe> exit\r\n"
	if got := screen.String(); got != want {
		t.Errorf("screen\n got %q\nwant %q", got, want)
	}
}

func TestSocketInteractiveStdinEOF(t *testing.T) {
	path := startSocket(t, newTestConsole(newFakeConfig(initialDoc), &recorder{}))
	var screen syncBuffer
	code, err := Client(context.Background(), path, nil, strings.NewReader("echo bye\r"), &screen, true)
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v", code, err)
	}
	if want := "cpe> echo bye\r\nECHO bye\r\ncpe> "; screen.String() != want {
		t.Errorf("screen %q, want %q", screen.String(), want)
	}
}

// TestSocketSlowClient keeps one client that never reads its output while
// others use the console, then shuts down with it still stuck.
func TestSocketSlowClient(t *testing.T) {
	flood := Command{Words: []string{"flood"}, Run: func(ctx context.Context, _ *Session, _ []string, w io.Writer) error {
		line := strings.Repeat("x", 1023) + "\n"
		for i := 0; i < 16<<10 && ctx.Err() == nil; i++ {
			if _, err := io.WriteString(w, line); err != nil {
				return err
			}
		}
		return nil
	}}
	path := startSocket(t, newTestConsole(newFakeConfig(initialDoc), &recorder{}, flood))
	for _, mode := range []string{`{"mode":"exec","lines":["flood"]}`, `{"mode":"interactive"}`} {
		stuck, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer stuck.Close()
		stuck.Write([]byte(mode + "\n"))
		if strings.Contains(mode, "interactive") {
			stuck.Write([]byte("flood\r"))
		}
	}
	time.Sleep(50 * time.Millisecond) // let the floods fill the socket buffers
	var out strings.Builder
	code, err := Client(context.Background(), path, []string{"show", "version"}, nil, &out, false)
	if err != nil || code != 0 || out.String() != "cpe test\n" {
		t.Fatalf("exit %d, %v, output %q", code, err, out.String())
	}
}

func TestSocketBadRequests(t *testing.T) {
	path := startSocket(t, newTestConsole(newFakeConfig(initialDoc), &recorder{}))
	tests := []struct {
		request, want string
	}{
		{"garbage\n", "error: bad request"},
		{`{"mode":"dance"}` + "\n", `error: bad request: unknown mode "dance"`},
		{`{"version":99,"mode":"exec"}` + "\n", "error: protocol version 99 not supported"},
	}
	for _, tt := range tests {
		conn, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte(tt.request))
		var out strings.Builder
		code := -1
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			var m struct {
				Out  *string
				Exit *int
			}
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%q: reply %q: %v", tt.request, sc.Text(), err)
			}
			if m.Out != nil {
				out.WriteString(*m.Out)
			}
			if m.Exit != nil {
				code = *m.Exit
			}
		}
		conn.Close()
		if code != 2 || !strings.HasPrefix(out.String(), tt.want) {
			t.Errorf("%q: exit %d, output %q; want 2, %q", tt.request, code, out.String(), tt.want)
		}
	}
}

func TestSocketPathChecks(t *testing.T) {
	checkLeaks(t)
	dir := t.TempDir()
	c := newTestConsole(newFakeConfig(initialDoc), &recorder{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A regular file is not ours to remove.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if err := c.ServeSocket(ctx, file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("ServeSocket on a regular file: %v", err)
	}

	// A live socket belongs to another instance.
	live := filepath.Join(dir, "live.sock")
	ln, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ServeSocket(ctx, live); err == nil || !strings.Contains(err.Error(), "another instance") {
		t.Errorf("ServeSocket on a live socket: %v", err)
	}
	ln.Close()

	// A stale one (its listener died without unlinking) is replaced.
	stale := filepath.Join(dir, "stale.sock")
	ln, err = net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	errc := make(chan error, 1)
	sctx, scancel := context.WithCancel(ctx)
	go func() { errc <- c.ServeSocket(sctx, stale) }()
	var out strings.Builder
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, err := Client(ctx, stale, []string{"sh", "ver"}, nil, &out, false)
		if err == nil && code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never served on the stale path: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	scancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}

	if code, err := Client(ctx, filepath.Join(dir, "none.sock"), []string{"x"}, nil, &out, false); code != 2 || err == nil {
		t.Errorf("Client without a server: exit %d, %v", code, err)
	}
}

// TestSocketNeverLooser: the socket file is never seen with a mode other
// than 0600, not even while it comes up, and nothing is left behind.
func TestSocketNeverLooser(t *testing.T) {
	for round := range 20 {
		dir := t.TempDir()
		path := filepath.Join(dir, "cli.sock")
		c := newTestConsole(newFakeConfig(initialDoc), &recorder{})
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- c.ServeSocket(ctx, path) }()
		var seen os.FileMode
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			if fi, err := os.Lstat(path); err == nil {
				if seen = fi.Mode(); seen.Perm() != 0o600 {
					break
				}
				if conn, err := net.Dial("unix", path); err == nil {
					conn.Close()
					break
				}
			}
		}
		cancel()
		if err := <-errc; err != nil {
			t.Fatalf("round %d: ServeSocket: %v", round, err)
		}
		entries, _ := os.ReadDir(dir)
		if seen&os.ModeSocket == 0 || seen.Perm() != 0o600 {
			t.Fatalf("round %d: socket seen with mode %v, want a socket with 0600", round, seen)
		}
		if len(entries) != 0 {
			t.Fatalf("round %d: left behind: %v", round, entries)
		}
	}
}
