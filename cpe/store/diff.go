package store

import (
	"bytes"
	"fmt"
	"strings"
)

// diffContext is how many unchanged lines surround a change, as in diff -u.
const diffContext = 3

const noNewline = "\n\\ No newline at end of file\n"

// Diff returns a unified diff of two documents, oldName and newName heading
// the --- and +++ lines, or "" when they are equal. It is a minimal line
// diff (Myers' O(ND) algorithm in linear space), so the cost grows with the
// size of the change rather than the product of the sizes: a few
// thousand lines with a few changes take microseconds.
func Diff(oldName, newName string, a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	x, y := splitLines(a), splitLines(b)
	d := newDiffer(x, y)
	d.compare(0, len(x), 0, len(y))
	return d.unified(oldName, newName)
}

// splitLines splits s into lines that keep their newline. A last line
// without one carries diff's marker instead, so it differs from the same
// text with a newline and prints the way patch(1) expects.
func splitLines(s []byte) []string {
	var lines []string
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, string(s)+noNewline)
			break
		}
		lines = append(lines, string(s[:i+1]))
		s = s[i+1:]
	}
	return lines
}

type differ struct {
	x, y     []string
	a, b     []int  // x and y with each distinct line replaced by a number
	del, ins []bool // del[i]: x[i] is deleted; ins[j]: y[j] is inserted
	v1, v2   []int  // scratch for bisect
}

func newDiffer(x, y []string) *differ {
	d := &differ{x: x, y: y, a: make([]int, len(x)), b: make([]int, len(y)),
		del: make([]bool, len(x)), ins: make([]bool, len(y))}
	ids := make(map[string]int)
	id := func(s string) int {
		n, ok := ids[s]
		if !ok {
			n = len(ids)
			ids[s] = n
		}
		return n
	}
	for i, s := range x {
		d.a[i] = id(s)
	}
	for j, s := range y {
		d.b[j] = id(s)
	}
	return d
}

// compare marks the lines of x[xlo:xhi] and y[ylo:yhi] that are not part of
// a longest common subsequence.
func (d *differ) compare(xlo, xhi, ylo, yhi int) {
	for xlo < xhi && ylo < yhi && d.a[xlo] == d.b[ylo] {
		xlo, ylo = xlo+1, ylo+1
	}
	for xlo < xhi && ylo < yhi && d.a[xhi-1] == d.b[yhi-1] {
		xhi, yhi = xhi-1, yhi-1
	}
	if xlo == xhi || ylo == yhi {
		d.changeAll(xlo, xhi, ylo, yhi)
		return
	}
	sx, sy, ok := d.bisect(xlo, xhi, ylo, yhi)
	// A split at either corner would recurse on the same box forever; it
	// cannot happen once common ends are stripped, but PID 1 must not hang.
	if !ok || (sx == xlo && sy == ylo) || (sx == xhi && sy == yhi) {
		d.changeAll(xlo, xhi, ylo, yhi)
		return
	}
	d.compare(xlo, sx, ylo, sy)
	d.compare(sx, xhi, sy, yhi)
}

func (d *differ) changeAll(xlo, xhi, ylo, yhi int) {
	for i := xlo; i < xhi; i++ {
		d.del[i] = true
	}
	for j := ylo; j < yhi; j++ {
		d.ins[j] = true
	}
}

// bisect finds a point on a shortest edit path through the box by running
// the search from both corners until the paths meet (Myers 1986, section
// 4b). The point is a valid split: an optimal path for the box is an
// optimal path to it followed by one from it.
func (d *differ) bisect(xlo, xhi, ylo, yhi int) (sx, sy int, ok bool) {
	a, b := d.a[xlo:xhi], d.b[ylo:yhi]
	n, m := len(a), len(b)
	maxD := (n + m + 1) / 2
	off := maxD + 1
	size := 2*maxD + 3
	if cap(d.v1) < size {
		d.v1, d.v2 = make([]int, size), make([]int, size)
	}
	v1, v2 := d.v1[:size], d.v2[:size]
	for i := range v1 {
		v1[i], v2[i] = -1, -1
	}
	// v1[off+k]: furthest x reached on diagonal k = x-y from the top left;
	// v2[off+k]: the same from the bottom right, counted backwards.
	v1[off+1], v2[off+1] = 0, 0
	delta := n - m
	// With an odd delta the forward path is the one to meet the reverse one.
	front := delta%2 != 0
	// Diagonals that ran off the grid are skipped from then on.
	k1start, k1end, k2start, k2end := 0, 0, 0, 0
	for D := 0; D < maxD; D++ {
		for k1 := -D + k1start; k1 <= D-k1end; k1 += 2 {
			i := off + k1
			var x1 int
			if k1 == -D || (k1 != D && v1[i-1] < v1[i+1]) {
				x1 = v1[i+1]
			} else {
				x1 = v1[i-1] + 1
			}
			y1 := x1 - k1
			for x1 < n && y1 < m && a[x1] == b[y1] {
				x1, y1 = x1+1, y1+1
			}
			v1[i] = x1
			switch {
			case x1 > n:
				k1end += 2
			case y1 > m:
				k1start += 2
			case front:
				j := off + delta - k1
				if j >= 0 && j < size && v2[j] != -1 && x1 >= n-v2[j] {
					return xlo + x1, ylo + y1, true
				}
			}
		}
		for k2 := -D + k2start; k2 <= D-k2end; k2 += 2 {
			i := off + k2
			var x2 int
			if k2 == -D || (k2 != D && v2[i-1] < v2[i+1]) {
				x2 = v2[i+1]
			} else {
				x2 = v2[i-1] + 1
			}
			y2 := x2 - k2
			for x2 < n && y2 < m && a[n-x2-1] == b[m-y2-1] {
				x2, y2 = x2+1, y2+1
			}
			v2[i] = x2
			switch {
			case x2 > n:
				k2end += 2
			case y2 > m:
				k2start += 2
			case !front:
				j := off + delta - k2
				if j >= 0 && j < size && v1[j] != -1 {
					x1 := v1[j]
					y1 := off + x1 - j
					if x1 >= n-x2 {
						return xlo + x1, ylo + y1, true
					}
				}
			}
		}
	}
	return 0, 0, false
}

// edit is one line of the edit script: ' ' kept, '-' deleted, '+' inserted.
type edit struct {
	op   byte
	line string
}

func (d *differ) script() []edit {
	var out []edit
	i, j := 0, 0
	for i < len(d.x) || j < len(d.y) {
		switch {
		case i < len(d.x) && d.del[i]:
			out = append(out, edit{'-', d.x[i]})
			i++
		case j < len(d.y) && d.ins[j]:
			out = append(out, edit{'+', d.y[j]})
			j++
		default:
			out = append(out, edit{' ', d.x[i]})
			i, j = i+1, j+1
		}
	}
	return out
}

func (d *differ) unified(oldName, newName string) string {
	es := d.script()
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", oldName, newName)
	// xline[k], yline[k]: how many lines of x and y precede es[k].
	xline, yline := make([]int, len(es)+1), make([]int, len(es)+1)
	for k, e := range es {
		xline[k+1], yline[k+1] = xline[k], yline[k]
		if e.op != '+' {
			xline[k+1]++
		}
		if e.op != '-' {
			yline[k+1]++
		}
	}
	for k := 0; k < len(es); {
		if es[k].op == ' ' {
			k++
			continue
		}
		// A hunk runs from this change to the last change that is at most
		// 2*diffContext unchanged lines from the one before it.
		start := max(0, k-diffContext)
		end := k
		for gap := 0; end < len(es) && gap <= 2*diffContext; end++ {
			if es[end].op == ' ' {
				gap++
			} else {
				gap = 0
			}
		}
		// Trim back to the last change plus its context.
		last := end - 1
		for es[last].op == ' ' {
			last--
		}
		end = min(len(es), last+1+diffContext)
		fmt.Fprintf(&sb, "@@ -%s +%s @@\n",
			hunkRange(xline[start], xline[end]), hunkRange(yline[start], yline[end]))
		for _, e := range es[start:end] {
			sb.WriteByte(e.op)
			sb.WriteString(e.line)
		}
		k = end
	}
	return sb.String()
}

// hunkRange formats lines [from, to) the way GNU diff does: 1-based start,
// the count omitted when it is 1, and an empty range named by the line
// before it.
func hunkRange(from, to int) string {
	switch n := to - from; n {
	case 0:
		return fmt.Sprintf("%d,0", from)
	case 1:
		return fmt.Sprintf("%d", from+1)
	default:
		return fmt.Sprintf("%d,%d", from+1, n)
	}
}
