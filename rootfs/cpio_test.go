package rootfs

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func testArchive(t *testing.T) *Archive {
	t.Helper()
	a := NewArchive()
	for _, err := range []error{
		a.File("init", 0o755, []byte("#!/bin/true\n")),
		a.File("etc/board.json", 0o644, []byte(`{"name":"x"}`)),
		a.Dir("tmp", 0o1777),
		a.Symlink("bin/cpe", "/init"),
		a.CharDev("dev/console", 0o600, 5, 1),
		a.File("lib/modules/6.1/kernel/a.ko", 0o644, bytes.Repeat([]byte{0x7f, 'E', 'L', 'F'}, 1001)),
		a.File("empty", 0o644, nil),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func TestArchiveRoundTrip(t *testing.T) {
	a := testArchive(t)
	var buf bytes.Buffer
	n, err := a.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) || n%4 != 0 {
		t.Fatalf("WriteTo returned %d for %d bytes (must be a multiple of 4)", n, buf.Len())
	}
	got, err := ReadCPIO(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range got {
		names = append(names, e.Name)
	}
	want := "bin bin/cpe dev dev/console empty etc etc/board.json init lib lib/modules lib/modules/6.1 lib/modules/6.1/kernel lib/modules/6.1/kernel/a.ko tmp"
	if strings.Join(names, " ") != want {
		t.Fatalf("names\n got %s\nwant %s", strings.Join(names, " "), want)
	}
	byName := map[string]Entry{}
	for _, e := range got {
		byName[e.Name] = e
	}
	if e := byName["tmp"]; e.Mode != modeDir|0o1777 {
		t.Errorf("tmp mode %o", e.Mode)
	}
	if e := byName["bin/cpe"]; e.Mode != modeLink|0o777 || string(e.Data) != "/init" {
		t.Errorf("bin/cpe = %o %q", e.Mode, e.Data)
	}
	if e := byName["dev/console"]; e.Mode != modeChr|0o600 || e.Major != 5 || e.Minor != 1 {
		t.Errorf("dev/console = %o %d:%d", e.Mode, e.Major, e.Minor)
	}
	if e := byName["lib/modules/6.1/kernel/a.ko"]; len(e.Data) != 4004 {
		t.Errorf("a.ko has %d bytes", len(e.Data))
	}
}

// TestArchiveWithCPIOCommand checks the bytes against GNU cpio, an independent reader.
func TestArchiveWithCPIOCommand(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed (Debian package cpio); the Go round trip still ran")
	}
	var buf bytes.Buffer
	if _, err := testArchive(t).WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("cpio", "-i", "-d", "--quiet", "--no-absolute-filenames")
	if os.Geteuid() != 0 {
		cmd.Args = append(cmd.Args, "--no-preserve-owner")
	}
	cmd.Dir, cmd.Stdin = dir, &buf
	// Without root the device node cannot be created; everything else must be.
	out, err := cmd.CombinedOutput()
	if err != nil && os.Geteuid() == 0 {
		t.Fatalf("cpio -i: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "etc/board.json"))
	if err != nil || string(data) != `{"name":"x"}` {
		t.Fatalf("etc/board.json = %q, %v", data, err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "bin/cpe")); err != nil || l != "/init" {
		t.Fatalf("bin/cpe → %q, %v", l, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "init")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("init: %v %v", fi, err)
	}
}

func TestGzipDeterministic(t *testing.T) {
	// Entries added in a different order must give the same bytes.
	a := testArchive(t)
	b := NewArchive()
	b.File("lib/modules/6.1/kernel/a.ko", 0o644, bytes.Repeat([]byte{0x7f, 'E', 'L', 'F'}, 1001))
	b.CharDev("dev/console", 0o600, 5, 1)
	b.File("empty", 0o644, nil)
	b.Symlink("bin/cpe", "/init")
	b.Dir("tmp", 0o1777)
	b.File("etc/board.json", 0o644, []byte(`{"name":"x"}`))
	b.File("init", 0o755, []byte("#!/bin/true\n"))
	ga, err := a.Gzip()
	if err != nil {
		t.Fatal(err)
	}
	gb, err := b.Gzip()
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(ga) != sha256.Sum256(gb) {
		t.Fatal("same entries, different bytes")
	}
	zr, err := gzip.NewReader(bytes.NewReader(ga))
	if err != nil {
		t.Fatal(err)
	}
	if !zr.ModTime.IsZero() || zr.Name != "" {
		t.Errorf("gzip header carries mtime %v name %q", zr.ModTime, zr.Name)
	}
	raw, _ := io.ReadAll(zr)
	if _, err := ReadCPIO(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	b.File("extra", 0o644, []byte("x"))
	if gc, _ := b.Gzip(); bytes.Equal(gc, ga) {
		t.Fatal("a different archive gave the same bytes")
	}
}

func TestArchiveRejects(t *testing.T) {
	a := NewArchive()
	if err := a.File("x", 0o644, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.File("/x", 0o644, nil); err == nil {
		t.Error("same file added twice")
	}
	if err := a.Dir("/", 0o755); err == nil {
		t.Error("root accepted as a name")
	}
	if err := a.Dir("d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := a.Dir("d/", 0o755); err != nil {
		t.Errorf("directory added twice must be fine: %v", err)
	}
}

func FuzzReadCPIO(f *testing.F) {
	var buf bytes.Buffer
	a := NewArchive()
	a.File("a", 0o644, []byte("hello"))
	a.WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte("070701"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ReadCPIO(bytes.NewReader(data))
	})
}
