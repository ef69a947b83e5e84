package console

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// protocolVersion is sent by the client; the server accepts 0 (absent) and
// 1.
const protocolVersion = 1

const (
	maxRequest     = 4 << 20          // bytes in the request line: a script of set commands
	requestTimeout = 30 * time.Second // to send the request line after connecting
)

// Exit codes of an exec request.
const (
	exitOK       = 0
	exitFailed   = 1 // a line failed; the lines after it were not run
	exitProtocol = 2 // bad request, or the connection broke
)

type request struct {
	Version int      `json:"version"`
	Mode    string   `json:"mode"` // "exec" or "interactive"
	Lines   []string `json:"lines,omitempty"`
}

type outMsg struct {
	Out string `json:"out"`
}

type exitMsg struct {
	Exit int `json:"exit"`
}

// ServeSocket serves the console on a unix socket at path (mode 0600, so
// only root may configure the box) until ctx ends; then it closes every
// connection, waits for their goroutines and removes the socket file. A
// stale socket file from an earlier run is removed first; a live one, or
// a path that is not a socket, is an error.
func (c *Console) ServeSocket(ctx context.Context, path string) error {
	if err := removeStale(path); err != nil {
		return err
	}
	ln, err := listenPrivate(ctx, path)
	if err != nil {
		return err
	}
	c.log.Info("serving the console", "socket", path)

	var (
		mu     sync.Mutex
		conns  = map[net.Conn]struct{}{}
		closed bool
		wg     sync.WaitGroup
	)
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		closed = true
		for cn := range conns {
			cn.Close()
		}
		mu.Unlock()
	})
	defer stop()

	var errOut error
	delay := time.Duration(0)
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, net.ErrClosed) {
				errOut = fmt.Errorf("console: accept: %w", err)
				break
			}
			// Out of file descriptors and the like: back off rather than
			// spin, the condition may pass.
			delay = min(max(2*delay, 10*time.Millisecond), time.Second)
			c.log.Warn("accept failed", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			continue
		}
		delay = 0
		mu.Lock()
		if closed {
			mu.Unlock()
			conn.Close()
			break
		}
		conns[conn] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(conns, conn)
				mu.Unlock()
				conn.Close()
			}()
			c.serveConn(ctx, conn)
		}()
	}
	ln.Close()
	os.Remove(path)
	wg.Wait()
	return errOut
}

// listenPrivate listens on a unix socket that appears at path with mode
// 0600 and never with another: it is made in a directory of its own that
// only we may enter, given its mode there, and renamed into place. Made
// at path and changed after, it was there with the umask's mode for a
// moment, listening.
func listenPrivate(ctx context.Context, path string) (net.Listener, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".console-")
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "sock")
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("console: listen: %w", err)
	}
	// Its name is path from now on; ServeSocket removes it.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err = os.Chmod(tmp, 0o600); err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("console: %w", err)
	}
	return ln, nil
}

// removeStale removes a socket file nobody listens on any more.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("console: %s exists and is not a socket", path)
	}
	if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
		conn.Close()
		return fmt.Errorf("console: %s: another instance is serving it", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("console: remove stale socket: %w", err)
	}
	return nil
}

func (c *Console) serveConn(ctx context.Context, conn net.Conn) {
	conn.SetReadDeadline(time.Now().Add(requestTimeout))
	br := bufio.NewReader(conn)
	line, err := readLine(br, maxRequest)
	if err != nil {
		c.log.Debug("console client gone before its request", "err", err)
		return
	}
	conn.SetReadDeadline(time.Time{})
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		writeProtocolError(conn, fmt.Errorf("bad request: %v", err))
		return
	}
	if req.Version > protocolVersion {
		writeProtocolError(conn, fmt.Errorf("protocol version %d not supported (at most %d)", req.Version, protocolVersion))
		return
	}
	switch req.Mode {
	case "exec":
		c.serveExec(ctx, conn, req.Lines)
	case "interactive":
		c.serveTerminal(ctx, br, conn, termOptions{
			kind:      "socket",
			allowExit: true,
			interrupt: func() bool { return conn.SetReadDeadline(time.Unix(1, 0)) == nil },
		})
	default:
		writeProtocolError(conn, fmt.Errorf("bad request: unknown mode %q", req.Mode))
	}
}

// readLine reads up to '\n' without letting a client grow the buffer past
// limit.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > limit {
			return nil, errors.New("request too long")
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return line, nil
		default:
			return nil, err
		}
	}
}

func writeProtocolError(w io.Writer, err error) {
	enc := json.NewEncoder(w)
	enc.Encode(outMsg{Out: "error: " + err.Error() + "\n"})
	enc.Encode(exitMsg{Exit: exitProtocol})
}

// jsonOut streams command output as {"out":...} lines.
type jsonOut struct {
	enc *json.Encoder
	err error
}

func (j *jsonOut) Write(p []byte) (int, error) {
	if j.err != nil {
		return 0, j.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if j.err = j.enc.Encode(outMsg{Out: string(p)}); j.err != nil {
		return 0, j.err
	}
	return len(p), nil
}

// serveExec runs the lines in one session and stops at the first failure:
// a script that goes on after a failed `set` would commit a half-made
// change.
func (c *Console) serveExec(ctx context.Context, conn net.Conn, lines []string) {
	bw := bufio.NewWriter(conn)
	out := &jsonOut{enc: json.NewEncoder(bw)}
	s := c.newSession("socket", true)
	code := exitOK
	for i, line := range lines {
		if ctx.Err() != nil {
			return
		}
		if err := s.Exec(ctx, line, out); err != nil {
			code = exitFailed
			if rest := len(lines) - i - 1; rest > 0 {
				fmt.Fprintf(out, "error: stopped at line %d; %d line(s) after it not run\n", i+1, rest)
			}
			break
		}
		if s.ended {
			break
		}
		if bw.Flush() != nil {
			return
		}
	}
	if s.dirty() {
		fmt.Fprintln(out, "warning: session ended in configure mode; uncommitted changes discarded")
	}
	out.enc.Encode(exitMsg{Exit: code})
	bw.Flush()
}
