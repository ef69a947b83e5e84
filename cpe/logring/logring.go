// Package logring keeps the most recent log lines in memory so that the
// console's `show log` works on a box with no log files and no disk to spare.
package logring

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// Ring is an io.Writer that keeps the last lines written to it. It is meant
// to sit under a slog text handler, which writes one record per Write.
type Ring struct {
	mu      sync.Mutex
	lines   []string
	next    int
	full    bool
	partial []byte
	dropped uint64
}

// New returns a ring that keeps up to size lines (at least 1).
func New(size int) *Ring {
	if size < 1 {
		size = 1
	}
	return &Ring{lines: make([]string, size)}
}

// maxLine bounds one stored line, so a record carrying a hostile packet's
// contents cannot make the ring grow without limit.
const maxLine = 1024

// Write stores every complete line in p; a trailing partial line is kept
// until its newline arrives. It never fails.
func (r *Ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	data := p
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			r.partial = append(r.partial, data...)
			if len(r.partial) > maxLine {
				r.push(string(r.partial))
				r.partial = r.partial[:0]
			}
			break
		}
		line := data[:i]
		if len(r.partial) > 0 {
			line = append(r.partial, line...)
			r.partial = r.partial[:0]
		}
		r.push(string(line))
		data = data[i+1:]
	}
	return len(p), nil
}

func (r *Ring) push(line string) {
	if len(line) > maxLine {
		line = line[:maxLine] + "…"
	}
	if r.full {
		r.dropped++
	}
	r.lines[r.next] = line
	r.next++
	if r.next == len(r.lines) {
		r.next = 0
		r.full = true
	}
}

// Lines returns the stored lines, oldest first; n > 0 limits the result to
// the newest n.
func (r *Ring) Lines(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	if r.full {
		out = append(out, r.lines[r.next:]...)
	}
	out = append(out, r.lines[:r.next]...)
	if n > 0 && len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// Dropped reports how many lines were pushed out of the ring by newer ones.
func (r *Ring) Dropped() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

// WriteTo writes the stored lines, oldest first, one per line.
func (r *Ring) WriteTo(w io.Writer) (int64, error) {
	lines := r.Lines(0)
	if len(lines) == 0 {
		return 0, nil
	}
	n, err := io.WriteString(w, strings.Join(lines, "\n")+"\n")
	return int64(n), err
}
