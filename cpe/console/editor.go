package console

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

const (
	maxEditLine = 4096 // bytes; a paste of garbage must not grow without bound
	maxHistory  = 100
	maxEscParam = 16
)

// Control bytes the editor acts on.
const (
	keyCtrlA     = 0x01
	keyCtrlB     = 0x02
	keyCtrlC     = 0x03
	keyCtrlD     = 0x04
	keyCtrlE     = 0x05
	keyCtrlF     = 0x06
	keyBackspace = 0x08
	keyTab       = 0x09
	keyLF        = 0x0a
	keyCtrlK     = 0x0b
	keyCtrlL     = 0x0c
	keyCR        = 0x0d
	keyCtrlN     = 0x0e
	keyCtrlP     = 0x10
	keyCtrlU     = 0x15
	keyCtrlW     = 0x17
	keyEsc       = 0x1b
	keyDel       = 0x7f
)

type escState int

const (
	escNone  escState = iota
	escStart          // after ESC
	escCSI            // after ESC [
	escSS3            // after ESC O
)

// action is what a byte asks of the terminal loop.
type action int

const (
	actNone action = iota
	actEnter
	actEOF
)

// editor is the line editing state of one terminal. It writes screen
// updates to out and never blocks on anything else.
type editor struct {
	s   *Session
	out io.Writer

	buf []rune
	pos int

	hist    []string
	histPos int
	draft   []rune

	esc    escState
	param  []byte
	escBad bool
	utf    []byte
	lastCR bool
	tabs   int // consecutive Tab presses
	line   string
	// eofOK lets Ctrl-D on an empty line end the session. On the serial
	// console it does nothing: there is no session to go back to, and a
	// new session would start a second reader on the same line.
	eofOK bool
}

func newEditor(s *Session, out io.Writer) *editor {
	return &editor{s: s, out: out}
}

func (e *editor) write(s string) { io.WriteString(e.out, s) }

func (e *editor) prompt() string { return e.s.mode.prompt() }

func (e *editor) showPrompt() { e.write(e.prompt()) }

// redraw rewrites the whole line: without a known window size this is the
// one update that is always right on a line shorter than the terminal.
func (e *editor) redraw() {
	var b strings.Builder
	b.WriteString("\r")
	b.WriteString(e.prompt())
	b.WriteString(string(e.buf))
	b.WriteString("\x1b[K")
	if back := len(e.buf) - e.pos; back > 0 {
		fmt.Fprintf(&b, "\x1b[%dD", back)
	}
	e.write(b.String())
}

func (e *editor) bytesLen() int {
	n := 0
	for _, r := range e.buf {
		n += utf8.RuneLen(r)
	}
	return n
}

func (e *editor) setLine(r []rune) {
	e.buf = append(e.buf[:0:0], r...)
	e.pos = len(e.buf)
	e.redraw()
}

// feed processes one input byte. On actEnter the finished line is in
// e.line.
func (e *editor) feed(b byte) action {
	if e.lastCR {
		e.lastCR = false
		if b == keyLF {
			return actNone // CRLF is one Enter
		}
	}
	switch e.esc {
	case escStart:
		switch b {
		case '[':
			e.esc, e.param, e.escBad = escCSI, e.param[:0], false
		case 'O':
			e.esc = escSS3
		case keyEsc:
		default:
			e.esc = escNone // Alt+key and friends: ignored
		}
		return actNone
	case escSS3:
		e.esc = escNone
		e.escKey(b, "")
		return actNone
	case escCSI:
		switch {
		case b >= 0x30 && b <= 0x3f:
			if len(e.param) < maxEscParam {
				e.param = append(e.param, b)
			} else {
				e.escBad = true
			}
			return actNone
		case b >= 0x20 && b <= 0x2f:
			e.escBad = true // intermediates: no key we know uses them
			return actNone
		case b >= 0x40 && b <= 0x7e:
			e.esc = escNone
			if !e.escBad {
				e.escKey(b, string(e.param))
			}
			return actNone
		default:
			// A control byte breaks the sequence and counts as itself,
			// so a garbled sequence cannot swallow Enter.
			e.esc = escNone
		}
	}
	if b >= 0x80 {
		return e.feedUTF8(b)
	}
	e.utf = e.utf[:0]
	if b != keyTab {
		e.tabs = 0
	}
	switch b {
	case keyCR, keyLF:
		e.lastCR = b == keyCR
		e.line = string(e.buf)
		e.write("\r\n")
		e.addHistory(e.line)
		e.buf, e.pos = e.buf[:0], 0
		return actEnter
	case keyCtrlA:
		e.pos = 0
		e.redraw()
	case keyCtrlE:
		e.pos = len(e.buf)
		e.redraw()
	case keyCtrlB:
		e.move(-1)
	case keyCtrlF:
		e.move(1)
	case keyCtrlK:
		e.buf = e.buf[:e.pos]
		e.redraw()
	case keyCtrlU:
		e.buf = append(e.buf[:0], e.buf[e.pos:]...)
		e.pos = 0
		e.redraw()
	case keyCtrlW:
		e.deleteWord()
	case keyCtrlC:
		e.write("^C\r\n")
		e.buf, e.pos = e.buf[:0], 0
		e.histPos = len(e.hist)
		e.showPrompt()
	case keyCtrlD:
		if len(e.buf) == 0 {
			if !e.eofOK {
				e.write("\a")
				return actNone
			}
			e.write("\r\n")
			return actEOF
		}
		e.deleteAt()
	case keyCtrlL:
		e.write("\x1b[H\x1b[2J")
		e.redraw()
	case keyCtrlP:
		e.historyUp()
	case keyCtrlN:
		e.historyDown()
	case keyBackspace, keyDel:
		if e.pos > 0 {
			e.pos--
			e.deleteAt()
		}
	case keyTab:
		e.tabs++
		e.complete()
	case '?':
		e.help()
	case keyEsc:
		e.esc = escStart
	default:
		if b >= 0x20 && b < 0x7f {
			e.insert(rune(b))
		}
		// Other control bytes and NUL: ignored.
	}
	return actNone
}

func (e *editor) feedUTF8(b byte) action {
	e.tabs = 0
	e.utf = append(e.utf, b)
	if !utf8.FullRune(e.utf) {
		if len(e.utf) >= utf8.UTFMax {
			e.utf = e.utf[:0]
		}
		return actNone
	}
	r, _ := utf8.DecodeRune(e.utf)
	e.utf = e.utf[:0]
	if r != utf8.RuneError && r >= 0xa0 {
		e.insert(r)
	}
	return actNone
}

func (e *editor) escKey(final byte, param string) {
	// Modifiers ("1;5C" is Ctrl+Right) are ignored: the plain key is meant.
	if i := strings.IndexByte(param, ';'); i >= 0 {
		param = param[:i]
	}
	switch final {
	case 'A':
		e.historyUp()
	case 'B':
		e.historyDown()
	case 'C':
		e.move(1)
	case 'D':
		e.move(-1)
	case 'H':
		e.pos = 0
		e.redraw()
	case 'F':
		e.pos = len(e.buf)
		e.redraw()
	case '~':
		switch param {
		case "1", "7":
			e.pos = 0
			e.redraw()
		case "4", "8":
			e.pos = len(e.buf)
			e.redraw()
		case "3":
			e.deleteAt()
		}
	}
}

func (e *editor) insert(r rune) {
	if e.bytesLen()+utf8.RuneLen(r) > maxEditLine {
		e.write("\a")
		return
	}
	if e.pos == len(e.buf) {
		e.buf = append(e.buf, r)
		e.pos++
		e.write(string(r))
		return
	}
	e.buf = append(e.buf, 0)
	copy(e.buf[e.pos+1:], e.buf[e.pos:])
	e.buf[e.pos] = r
	e.pos++
	e.redraw()
}

func (e *editor) insertString(s string) {
	for _, r := range s {
		if e.bytesLen()+utf8.RuneLen(r) > maxEditLine {
			e.write("\a")
			break
		}
		e.buf = append(e.buf, 0)
		copy(e.buf[e.pos+1:], e.buf[e.pos:])
		e.buf[e.pos] = r
		e.pos++
	}
	e.redraw()
}

func (e *editor) deleteAt() {
	if e.pos >= len(e.buf) {
		return
	}
	e.buf = append(e.buf[:e.pos], e.buf[e.pos+1:]...)
	e.redraw()
}

func (e *editor) move(d int) {
	p := e.pos + d
	if p < 0 || p > len(e.buf) {
		return
	}
	e.pos = p
	e.redraw()
}

// deleteWord removes the word left of the cursor and the blanks after it,
// as Ctrl-W does in shells.
func (e *editor) deleteWord() {
	p := e.pos
	for p > 0 && e.buf[p-1] == ' ' {
		p--
	}
	for p > 0 && e.buf[p-1] != ' ' {
		p--
	}
	e.buf = append(e.buf[:p], e.buf[e.pos:]...)
	e.pos = p
	e.redraw()
}

func (e *editor) addHistory(line string) {
	if strings.TrimSpace(line) != "" && (len(e.hist) == 0 || e.hist[len(e.hist)-1] != line) {
		e.hist = append(e.hist, line)
		if len(e.hist) > maxHistory {
			e.hist = append(e.hist[:0], e.hist[len(e.hist)-maxHistory:]...)
		}
	}
	e.histPos = len(e.hist)
	e.draft = nil
}

func (e *editor) historyUp() {
	if e.histPos == 0 {
		return
	}
	if e.histPos == len(e.hist) {
		e.draft = append([]rune(nil), e.buf...)
	}
	e.histPos--
	e.setLine([]rune(e.hist[e.histPos]))
}

func (e *editor) historyDown() {
	if e.histPos >= len(e.hist) {
		return
	}
	e.histPos++
	if e.histPos == len(e.hist) {
		e.setLine(e.draft)
		return
	}
	e.setLine([]rune(e.hist[e.histPos]))
}

// listing writes text (with "\n" line ends) below the line, then redraws
// the line under it.
func (e *editor) listing(text string) {
	e.write("\r\n")
	e.write(strings.ReplaceAll(text, "\n", "\r\n"))
	e.redraw()
}

func (e *editor) help() {
	cs, err := e.s.candidates(string(e.buf[:e.pos]))
	var b bytes.Buffer
	if err != nil {
		printError(&b, err)
	} else {
		writeListing(&b, cs)
	}
	e.listing(b.String())
}

// complete handles Tab: a unique candidate is inserted with a space; with
// several, their longest common prefix, and a second Tab lists them.
func (e *editor) complete() {
	before := string(e.buf[:e.pos])
	cs, err := e.s.candidates(before)
	words := cs.tabWords()
	if err != nil || cs.quoted || len(words) == 0 {
		e.write("\a")
		return
	}
	typed := []rune(before[cs.start:])
	replace := func(with string) {
		start := e.pos - len(typed)
		rest := append([]rune(nil), e.buf[e.pos:]...)
		e.buf, e.pos = e.buf[:start], start
		e.buf = append(e.buf, rest...)
		e.insertString(with)
	}
	if len(words) == 1 {
		replace(quoteWord(words[0]) + " ")
		e.tabs = 0
		return
	}
	if lcp := longestCommonPrefix(words); len(lcp) > len(cs.partial) {
		replace(quoteWord(lcp))
		return
	}
	if e.tabs < 2 {
		e.write("\a")
		return
	}
	var items []Completion
	for _, it := range cs.items {
		for _, w := range words {
			if it.Word == w {
				items = append(items, it)
				break
			}
		}
	}
	var b strings.Builder
	writeItems(&b, items)
	e.listing(b.String())
}

// termWriter remembers the first write error, which means the peer is
// gone, and whether the last byte written ended a line.
type termWriter struct {
	w       io.Writer
	err     error
	midLine bool
}

func (t *termWriter) Write(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	if len(p) > 0 {
		t.midLine = p[len(p)-1] != '\n'
	}
	n, err := t.w.Write(p)
	if err != nil {
		t.err = err
	}
	return n, err
}

// crlfWriter turns "\n" into "\r\n" for a raw terminal, which does not add
// the carriage return itself.
type crlfWriter struct {
	w      io.Writer
	lastCR bool
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	var b bytes.Buffer
	for _, ch := range p {
		if ch == '\n' && !c.lastCR {
			b.WriteByte('\r')
		}
		b.WriteByte(ch)
		c.lastCR = ch == '\r'
	}
	if _, err := c.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// termOptions say how a terminal session behaves on its transport.
type termOptions struct {
	kind      string
	allowExit bool // `exit` in operational mode ends the session (socket)
	// interrupt unblocks a pending Read (sets a deadline in the past) and
	// reports whether it could; resume undoes it, so that the reader can be
	// served again. Without them the reader goroutine ends only when Read
	// returns on its own.
	interrupt func() bool
	resume    func()
}

// ServeTerminal runs an interactive session with line editing on a raw
// terminal (the serial console). It returns nil when input ends or when
// ctx ends. On the serial console `exit` in operational mode and Ctrl-D on
// an empty line only give a new prompt or a bell: there is nothing to go
// back to. If r has SetReadDeadline (an *os.File in non-blocking mode, a
// net.Conn) it is used to stop a pending read when ctx ends; otherwise one
// goroutine stays blocked in r.Read until it returns, so the caller should
// close r after ctx ends. Input read but not yet used when the session
// ends is lost.
func (c *Console) ServeTerminal(ctx context.Context, r io.Reader, w io.Writer) error {
	opts := termOptions{kind: "serial"}
	if d, ok := r.(interface{ SetReadDeadline(time.Time) error }); ok {
		opts.interrupt = func() bool { return d.SetReadDeadline(time.Unix(1, 0)) == nil }
		opts.resume = func() { d.SetReadDeadline(time.Time{}) }
	}
	return c.serveTerminal(ctx, r, w, opts)
}

func (c *Console) serveTerminal(ctx context.Context, r io.Reader, w io.Writer, opts termOptions) error {
	s := c.newSession(opts.kind, opts.allowExit)
	tw := &termWriter{w: w}
	ed := newEditor(s, tw)
	ed.eofOK = opts.allowExit

	// The reader runs apart so that ctx can end the session during a
	// blocked read, and so that Ctrl-C can cancel a running command.
	var (
		mu        sync.Mutex
		cancelCmd context.CancelFunc
	)
	chunks := make(chan []byte)
	done := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer close(chunks)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				chunk := bytes.Clone(buf[:n])
				mu.Lock()
				cc := cancelCmd
				mu.Unlock()
				if i := bytes.IndexByte(chunk, keyCtrlC); cc != nil && i >= 0 {
					cc()
					chunk = append(chunk[:i], chunk[i+1:]...)
				}
				select {
				case chunks <- chunk:
				case <-done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	// Whatever ends the session, the reader is stopped before returning
	// when the transport allows it, so the caller owns no stray goroutine.
	defer func() {
		close(done)
		if opts.interrupt != nil && opts.interrupt() {
			<-readerDone
			if opts.resume != nil {
				opts.resume()
			}
		}
	}()

	run := func(line string) {
		cctx, cancel := context.WithCancel(ctx)
		mu.Lock()
		cancelCmd = cancel
		mu.Unlock()
		out := &crlfWriter{w: tw}
		tw.midLine = false
		s.Exec(cctx, line, out)
		mu.Lock()
		cancelCmd = nil
		mu.Unlock()
		cancel()
		if tw.midLine {
			tw.Write([]byte("\r\n"))
		}
	}

	ed.showPrompt()
	for {
		select {
		case <-ctx.Done():
			return nil
		case chunk, ok := <-chunks:
			if !ok {
				return nil
			}
			for _, b := range chunk {
				switch ed.feed(b) {
				case actEOF:
					return nil
				case actEnter:
					run(ed.line)
					if s.ended || ctx.Err() != nil {
						return nil
					}
					ed.showPrompt()
				}
			}
			if tw.err != nil {
				return nil
			}
		}
	}
}
