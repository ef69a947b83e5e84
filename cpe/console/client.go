package console

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// Client is `cpe cli`: it talks to ServeSocket at path. With words it runs
// them as one command; without words and with stdin not a terminal it runs
// every stdin line as a command of one session (a script may `configure`,
// `set` and `commit`) and stops at the first failure; otherwise it is an
// interactive session, with stdin in raw mode when stdinIsTerminal and stdin
// has a file descriptor. The exit code is 0 when every command succeeded, 1
// when one failed, 2 when the request could not be made (err says why).
func Client(ctx context.Context, path string, words []string, stdin io.Reader, stdout io.Writer, stdinIsTerminal bool) (exitCode int, err error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return exitProtocol, fmt.Errorf("console: is cpe running? %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	var code int
	switch {
	case len(words) > 0:
		code, err = clientExec(conn, []string{joinWords(words)}, stdout)
	case !stdinIsTerminal:
		var lines []string
		lines, err = readLines(stdin)
		if err == nil {
			code, err = clientExec(conn, lines, stdout)
		}
	default:
		code, err = clientInteractive(conn, stdin, stdout)
	}
	if ctx.Err() != nil {
		return exitProtocol, ctx.Err()
	}
	return code, err
}

func readLines(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxExecLine)
	var lines []string
	size := 0
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		size += len(line) + 8
		if size > maxRequest/2 {
			return nil, errors.New("console: script too long")
		}
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("console: read commands: %w", err)
	}
	return lines, nil
}

func sendRequest(conn net.Conn, req request) error {
	req.Version = protocolVersion
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("console: send request: %w", err)
	}
	return nil
}

func clientExec(conn net.Conn, lines []string, stdout io.Writer) (int, error) {
	if lines == nil {
		lines = []string{}
	}
	if err := sendRequest(conn, request{Mode: "exec", Lines: lines}); err != nil {
		return exitProtocol, err
	}
	dec := json.NewDecoder(bufio.NewReader(conn))
	for {
		var m struct {
			Out  *string `json:"out"`
			Exit *int    `json:"exit"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return exitProtocol, fmt.Errorf("console: connection ended before the command did: %w", err)
		}
		if m.Out != nil {
			if _, err := io.WriteString(stdout, *m.Out); err != nil {
				return exitProtocol, fmt.Errorf("console: %w", err)
			}
		}
		if m.Exit != nil {
			return *m.Exit, nil
		}
	}
}

// clientInteractive copies bytes both ways until the server ends the
// session. The stdin copy may stay blocked in Read after that; `cpe cli`
// exits at once, so only tests need to close their stdin.
func clientInteractive(conn net.Conn, stdin io.Reader, stdout io.Writer) (int, error) {
	if f, ok := stdin.(interface{ Fd() uintptr }); ok {
		restore, err := makeRaw(int(f.Fd()))
		if err != nil {
			return exitProtocol, fmt.Errorf("console: raw terminal: %w", err)
		}
		defer restore()
	}
	if err := sendRequest(conn, request{Mode: "interactive"}); err != nil {
		return exitProtocol, err
	}
	go func() {
		io.Copy(conn, stdin)
		if uc, ok := conn.(*net.UnixConn); ok {
			uc.CloseWrite() // stdin ended: the server sees EOF and ends the session
		}
	}()
	if _, err := io.Copy(stdout, conn); err != nil && !errors.Is(err, net.ErrClosed) {
		return exitProtocol, fmt.Errorf("console: %w", err)
	}
	return exitOK, nil
}
