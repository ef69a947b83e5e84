package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"cpe/internal/golden"
)

func TestDiffGolden(t *testing.T) {
	olds, err := filepath.Glob(filepath.Join("testdata", "diff", "*.old"))
	if err != nil || len(olds) == 0 {
		t.Fatalf("no test inputs: %v", err)
	}
	for _, oldPath := range olds {
		name := strings.TrimSuffix(filepath.Base(oldPath), ".old")
		t.Run(name, func(t *testing.T) {
			a, err := os.ReadFile(oldPath)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(strings.TrimSuffix(oldPath, ".old") + ".new")
			if err != nil {
				t.Fatal(err)
			}
			got := Diff("rev 1", "rev 2", a, b)
			golden.Check(t, filepath.Join("diff", name+".golden"), []byte(got))
			if patched, err := applyUnified(a, got); err != nil || !bytes.Equal(patched, b) {
				t.Errorf("applying the diff: %v\n%q\nwant %q", err, patched, b)
			}
		})
	}
}

func TestDiffEqual(t *testing.T) {
	for _, s := range []string{"", "x", "{\n}\n", "no newline"} {
		if d := Diff("a", "b", []byte(s), []byte(s)); d != "" {
			t.Errorf("Diff of equal %q = %q", s, d)
		}
	}
}

// TestDiffMinimal checks on random documents that the diff applies and is
// as short as a longest common subsequence allows.
func TestDiffMinimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randomDoc := func() []byte {
		var b []byte
		for range rng.IntN(30) {
			b = fmt.Appendf(b, "line %c\n", 'a'+rng.IntN(5))
		}
		if rng.IntN(4) == 0 {
			b = append(b, "tail"...)
		}
		return b
	}
	for i := range 2000 {
		a, b := randomDoc(), randomDoc()
		if rng.IntN(3) == 0 {
			b = mutate(rng, a)
		}
		d := Diff("a", "b", a, b)
		patched, err := applyUnified(a, d)
		if err != nil || !bytes.Equal(patched, b) {
			t.Fatalf("case %d: applying the diff: %v\na: %q\nb: %q\ndiff:\n%s", i, err, a, b, d)
		}
		x, y := splitLines(a), splitLines(b)
		want := len(x) + len(y) - 2*lcsLength(x, y)
		if got := countChanges(d); got != want {
			t.Fatalf("case %d: %d changed lines, a minimal diff has %d\na: %q\nb: %q\ndiff:\n%s", i, got, want, a, b, d)
		}
	}
}

// mutate changes a few lines of a config-like document.
func mutate(rng *rand.Rand, a []byte) []byte {
	lines := strings.SplitAfter(string(a), "\n")
	for range 1 + rng.IntN(3) {
		i := rng.IntN(len(lines) + 1)
		switch rng.IntN(3) {
		case 0:
			lines = append(lines[:i], append([]string{fmt.Sprintf("new %d\n", rng.IntN(100))}, lines[i:]...)...)
		case 1:
			if i < len(lines) {
				lines = append(lines[:i], lines[i+1:]...)
			}
		case 2:
			if i < len(lines) {
				lines[i] = "changed\n"
			}
		}
	}
	return []byte(strings.Join(lines, ""))
}

func lcsLength(x, y []string) int {
	prev, cur := make([]int, len(y)+1), make([]int, len(y)+1)
	for i := range x {
		for j := range y {
			switch {
			case x[i] == y[j]:
				cur[j+1] = prev[j] + 1
			default:
				cur[j+1] = max(prev[j+1], cur[j])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(y)]
}

func countChanges(d string) int {
	n := 0
	for _, l := range strings.Split(d, "\n") {
		if (strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "--- ")) ||
			(strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++ ")) {
			n++
		}
	}
	return n
}

// TestDiffLarge diffs config-sized documents: a few thousand lines with
// scattered edits, and two documents with nothing in common.
func TestDiffLarge(t *testing.T) {
	var a []byte
	for i := range 5000 {
		a = fmt.Appendf(a, "  {\n    \"name\": \"lan%d\",\n    \"mtu\": 1500\n  },\n", i%700)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	b := a
	for range 30 {
		b = mutate(rng, b)
	}
	var c []byte
	for i := range 3000 {
		c = fmt.Appendf(c, "other %d\n", i)
	}
	for _, tt := range []struct {
		name string
		a, b []byte
	}{
		{"scattered edits", a, b},
		{"nothing in common", a[:len(a)/6], c},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			d := Diff("a", "b", tt.a, tt.b)
			t.Logf("%d+%d lines, %d changed, %v", bytes.Count(tt.a, []byte("\n")), bytes.Count(tt.b, []byte("\n")),
				countChanges(d), time.Since(start))
			patched, err := applyUnified(tt.a, d)
			if err != nil || !bytes.Equal(patched, tt.b) {
				t.Fatalf("applying the diff: %v", err)
			}
		})
	}
}

func FuzzDiff(f *testing.F) {
	f.Add([]byte("a\nb\nc\n"), []byte("a\nc\nd\n"))
	f.Add([]byte(""), []byte("x"))
	f.Add([]byte("x"), []byte("x\n"))
	f.Add([]byte("\n\n\n"), []byte("\n"))
	f.Add([]byte("--- a\n+++ b\n@@ -1 +1 @@\n"), []byte("\\ No newline at end of file\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		d := Diff("a", "b", a, b)
		if (d == "") != bytes.Equal(a, b) {
			t.Fatalf("Diff empty = %v for a == b: %v", d == "", bytes.Equal(a, b))
		}
		patched, err := applyUnified(a, d)
		if err != nil || !bytes.Equal(patched, b) {
			t.Fatalf("applying the diff: %v\n%q\nwant %q\ndiff:\n%s", err, patched, b, d)
		}
	})
}

var hunkHeader = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$`)

// applyUnified is a small patch(1): it applies d to a, checking every
// context and deleted line and every hunk header number on the way.
func applyUnified(a []byte, d string) ([]byte, error) {
	if d == "" {
		return a, nil
	}
	// Diff lines, each with the "\ No newline" marker that follows it
	// folded in, so they read like splitLines' lines with an op in front.
	var dl []string
	for _, l := range strings.SplitAfter(d, "\n") {
		if strings.HasPrefix(l, "\\") && len(dl) > 0 {
			dl[len(dl)-1] += l
			continue
		}
		if l != "" {
			dl = append(dl, l)
		}
	}
	if len(dl) < 2 || !strings.HasPrefix(dl[0], "--- ") || !strings.HasPrefix(dl[1], "+++ ") {
		return nil, fmt.Errorf("no --- +++ header")
	}
	src := splitLines(a)
	var out []string
	next := 0 // the first line of src not yet copied
	num := func(s string, def int) int {
		if s == "" {
			return def
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	for k := 2; k < len(dl); {
		m := hunkHeader.FindStringSubmatch(strings.TrimSuffix(dl[k], "\n"))
		if m == nil {
			return nil, fmt.Errorf("line %d: not a hunk header: %q", k, dl[k])
		}
		aStart, aCount, bStart, bCount := num(m[1], 0), num(m[2], 1), num(m[3], 0), num(m[4], 1)
		// An empty range is named by the line before it.
		at := aStart - 1
		if aCount == 0 {
			at = aStart
		}
		if at < next || at > len(src) {
			return nil, fmt.Errorf("hunk %q out of order", dl[k])
		}
		out = append(out, src[next:at]...)
		next = at
		if want := bStart - 1; bCount == 0 && len(out) != bStart || bCount > 0 && len(out) != want {
			return nil, fmt.Errorf("hunk %q: new side starts after %d lines", dl[k], len(out))
		}
		k++
		var na, nb int
		for ; k < len(dl) && !strings.HasPrefix(dl[k], "@@"); k++ {
			op, line := dl[k][0], dl[k][1:]
			switch op {
			case ' ', '-':
				if next >= len(src) || src[next] != line {
					return nil, fmt.Errorf("line %d: %q does not match the old document", k, dl[k])
				}
				next++
				na++
				if op == ' ' {
					out = append(out, line)
					nb++
				}
			case '+':
				out = append(out, line)
				nb++
			default:
				return nil, fmt.Errorf("line %d: bad op %q", k, dl[k])
			}
		}
		if na != aCount || nb != bCount {
			return nil, fmt.Errorf("hunk %s: %d old and %d new lines", m[0], na, nb)
		}
	}
	out = append(out, src[next:]...)
	var b []byte
	for _, l := range out {
		b = append(b, strings.TrimSuffix(l, noNewline)...)
	}
	return b, nil
}
