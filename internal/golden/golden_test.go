package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps failures instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (r *recorder) Fatal(args ...any) { r.TB.Fatal(args...) }

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	name := filepath.Join("sub", "out.txt")

	r := &recorder{TB: t}
	Check(r, name, []byte("a\nb\n"))
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], "-update") {
		t.Fatalf("missing golden file: errors %q", r.errors)
	}

	*update = true
	Check(t, name, []byte("a\nb\n"))
	*update = false
	if b, err := os.ReadFile(filepath.Join(dir, "testdata", name)); err != nil || string(b) != "a\nb\n" {
		t.Fatalf("-update wrote %q, %v", b, err)
	}

	r = &recorder{TB: t}
	Check(r, name, []byte("a\nb\n"))
	if len(r.errors) != 0 {
		t.Fatalf("equal output failed: %q", r.errors)
	}

	r = &recorder{TB: t}
	Check(r, name, []byte("a\nc\n"))
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], "line 2") {
		t.Fatalf("changed output: errors %q", r.errors)
	}
	if Update() {
		t.Error("Update() true without -update")
	}
}

func TestFirstDifference(t *testing.T) {
	for _, tc := range []struct{ want, got, line string }{
		{"a\nb", "a\nb", ""},
		{"a\nb", "a\nc", "line 2"},
		{"a", "a\nb", "line 2"},
		{"", "x", "line 1"},
	} {
		if d := firstDifference([]byte(tc.want), []byte(tc.got)); !strings.Contains(d, tc.line) || (tc.line == "") != (d == "") {
			t.Errorf("firstDifference(%q, %q) = %q, want mention of %q", tc.want, tc.got, d, tc.line)
		}
	}
}
