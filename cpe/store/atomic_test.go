package store

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	// The mode must not depend on the umask PID 1 happens to run with.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)

	dir := t.TempDir()
	path := filepath.Join(dir, "duid")
	for i, tt := range []struct {
		data string
		perm os.FileMode
	}{
		{"first", 0o644},
		{"second, longer than the first", 0o600},
		{"", 0o640},
	} {
		if err := WriteFileAtomic(path, []byte(tt.data), tt.perm); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != tt.data {
			t.Errorf("write %d: file holds %q, %v", i, got, err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != tt.perm {
			t.Errorf("write %d: mode %v, want %v", i, fi.Mode().Perm(), tt.perm)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("write %d: %d entries in the directory", i, len(entries))
		}
	}
}

func TestWriteFileAtomicMissingDir(t *testing.T) {
	err := WriteFileAtomic(filepath.Join(t.TempDir(), "nope", "f"), []byte("x"), 0o600)
	if err == nil || !strings.HasPrefix(err.Error(), "store: ") {
		t.Errorf("err = %v", err)
	}
}

func TestCleanTemp(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{".duid.tmp-1", ".leases.json.tmp-99", "duid", ".hidden", "x.tmp-1"} {
		writeFile(t, filepath.Join(dir, n), nil)
	}
	removed, err := CleanTemp(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{".duid.tmp-1", ".leases.json.tmp-99"}; !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if want := []string{".hidden", "duid", "x.tmp-1"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
	if _, err := CleanTemp(filepath.Join(dir, "missing")); err == nil {
		t.Error("CleanTemp of a missing directory: no error")
	}
}
