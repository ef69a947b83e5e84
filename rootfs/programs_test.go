package rootfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestProgramFilesMatchesLdd resolves a host program and compares the
// closure with what the host's own loader (ldd) loads.
func TestProgramFilesMatchesLdd(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("needs an amd64 Linux host")
	}
	ldd, err := exec.LookPath("ldd")
	if err != nil {
		t.Skip("no ldd")
	}
	const prog = "/bin/sh"
	out, err := exec.Command(ldd, prog).Output()
	if err != nil {
		t.Skipf("ldd %s: %v", prog, err)
	}
	want := []string{prog}
	for _, m := range regexp.MustCompile(`(?m)^\s*(?:\S+ => )?(/\S+) \(`).FindAllStringSubmatch(string(out), -1) {
		want = append(want, m[1])
	}
	got, err := ProgramFiles("", "amd64", []string{prog}, LibDirs("amd64"))
	if err != nil {
		t.Fatal(err)
	}
	// ldd prints the paths the cache gave; ours are the first directory of
	// the search list holding the name: compare the files they are.
	same := func(a, b string) bool {
		fa, err1 := os.Stat(a)
		fb, err2 := os.Stat(b)
		return err1 == nil && err2 == nil && os.SameFile(fa, fb)
	}
	if len(got) != len(want) {
		t.Fatalf("ProgramFiles(%s) = %v, ldd says %v", prog, got, want)
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return same(g, w) }) {
			t.Errorf("%s (ldd) is not among %v", w, got)
		}
	}
}

func TestProgramFilesErrors(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("needs an amd64 Linux host")
	}
	root := t.TempDir()
	sh, err := os.ReadFile("/bin/sh")
	if err != nil {
		t.Skip(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/sh"), sh, 0o755); err != nil {
		t.Fatal(err)
	}
	// The interpreter is there, libc is not.
	ld, err := os.ReadFile("/lib64/ld-linux-x86-64.so.2")
	if err != nil {
		t.Skip(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "lib64"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "lib64/ld-linux-x86-64.so.2"), ld, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		goarch   string
		programs []string
		want     string
	}{
		{"amd64", []string{"/bin/sh"}, "which is in none of"},
		{"arm64", []string{"/bin/sh"}, "host of the board's architecture"},
		{"amd64", []string{"bin/sh"}, "not an absolute path"},
		{"amd64", []string{"/bin/nothing"}, "make deps installs it"},
		{"pdp11", []string{"/bin/sh"}, "no ELF machine"},
	} {
		_, err := ProgramFiles(root, c.goarch, c.programs, LibDirs(c.goarch))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: err %v, want one saying %q", c.goarch, c.programs, err, c.want)
		}
	}
}

func TestAddProgramsMakesParents(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "usr/sbin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/sbin/x"), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	a := NewArchive()
	if err := AddPrograms(a, root, []string{"/usr/sbin/x"}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range a.Entries() {
		names = append(names, e.Name)
	}
	if want := []string{"usr", "usr/sbin", "usr/sbin/x"}; !slices.Equal(names, want) {
		t.Errorf("entries %v, want %v", names, want)
	}
}
