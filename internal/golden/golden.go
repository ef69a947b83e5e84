// Package golden owns the -update flag and the comparison of test output
// with the golden files under testdata/, so that every test binary that
// uses it shares one flag and one way to refresh them.
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The flag is registered once here; a test package that imports golden
// must not define its own -update.
var update = flag.Bool("update", false, "rewrite the golden files and fuzz seed corpora under testdata/")

// Update reports whether the tests run with -update, for checks that only
// make sense against files already in place (such as counting them).
func Update() bool { return *update }

// Check compares got with the file name below testdata/ or, with -update,
// writes got there (creating directories) for review in the diff.
func Check(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%v (run go test -update to create it)", err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update, then review the diff)\n%s--- got\n%s\n--- want\n%s",
			path, firstDifference(want, got), got, want)
	}
}

// firstDifference names the first line where want and got part, which is
// easy to miss in two long dumps.
func firstDifference(want, got []byte) string {
	w, g := bytes.Split(want, []byte("\n")), bytes.Split(got, []byte("\n"))
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl []byte
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if i >= len(w) || i >= len(g) || !bytes.Equal(wl, gl) {
			return fmt.Sprintf("first difference at line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
		}
	}
	return ""
}
