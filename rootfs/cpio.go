package rootfs

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// Unix file type bits as they appear in a newc header's mode field.
const (
	modeDir  = 0o040000
	modeFile = 0o100000
	modeLink = 0o120000
	modeChr  = 0o020000
)

// Entry is one file in the archive. Name is relative ("bin/cpe"); Mode holds the
// type bits and the permissions.
type Entry struct {
	Name         string
	Mode         uint32
	Data         []byte // file contents, or the target of a symlink
	Major, Minor uint32 // device numbers of a character device
}

// Archive collects entries and writes them as a reproducible newc cpio: sorted by
// name, inodes numbered in that order, owner root, mtime 0. Parent directories
// that were not added explicitly are created with mode 0755.
type Archive struct {
	entries map[string]Entry
}

// NewArchive returns an empty archive.
func NewArchive() *Archive { return &Archive{entries: map[string]Entry{}} }

func clean(name string) (string, error) {
	n := strings.TrimPrefix(path.Clean("/"+name), "/")
	if n == "" || n == "." {
		return "", fmt.Errorf("rootfs: cpio: bad name %q", name)
	}
	return n, nil
}

func (a *Archive) add(e Entry) error {
	n, err := clean(e.Name)
	if err != nil {
		return err
	}
	e.Name = n
	if old, ok := a.entries[n]; ok && !(old.Mode == e.Mode && old.Mode&modeDir != 0) {
		return fmt.Errorf("rootfs: cpio: %s added twice", n)
	}
	a.entries[n] = e
	return nil
}

// Dir adds a directory.
func (a *Archive) Dir(name string, perm uint32) error {
	return a.add(Entry{Name: name, Mode: modeDir | perm&0o7777})
}

// File adds a regular file.
func (a *Archive) File(name string, perm uint32, data []byte) error {
	return a.add(Entry{Name: name, Mode: modeFile | perm&0o7777, Data: data})
}

// Symlink adds a symbolic link to target.
func (a *Archive) Symlink(name, target string) error {
	return a.add(Entry{Name: name, Mode: modeLink | 0o777, Data: []byte(target)})
}

// CharDev adds a character device node (the kernel creates it while unpacking,
// so no root is needed at build time).
func (a *Archive) CharDev(name string, perm, major, minor uint32) error {
	return a.add(Entry{Name: name, Mode: modeChr | perm&0o7777, Major: major, Minor: minor})
}

// Entries returns the entries in archive order, including implied parent directories.
func (a *Archive) Entries() []Entry {
	all := make(map[string]Entry, len(a.entries))
	for n, e := range a.entries {
		all[n] = e
		for d := path.Dir(n); d != "."; d = path.Dir(d) {
			if _, ok := a.entries[d]; !ok {
				all[d] = Entry{Name: d, Mode: modeDir | 0o755}
			}
		}
	}
	out := make([]Entry, 0, len(all))
	for _, e := range all {
		out = append(out, e)
	}
	// Byte order puts every directory before its contents: "a" < "a/…".
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// WriteTo writes the archive in the newc format ("070701") with a trailer.
func (a *Archive) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	for i, e := range a.Entries() {
		nlink := uint32(1)
		if e.Mode&0o170000 == modeDir {
			nlink = 2
		}
		if err := writeEntry(cw, uint32(i+1), e, nlink); err != nil {
			return cw.n, err
		}
	}
	err := writeEntry(cw, 0, Entry{Name: "TRAILER!!!"}, 1)
	return cw.n, err
}

func writeEntry(w io.Writer, ino uint32, e Entry, nlink uint32) error {
	var hdr bytes.Buffer
	fmt.Fprintf(&hdr, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, e.Mode, 0, 0, nlink, 0, len(e.Data), 0, 0, e.Major, e.Minor, len(e.Name)+1, 0)
	hdr.WriteString(e.Name)
	hdr.WriteByte(0)
	pad4(&hdr, hdr.Len())
	hdr.Write(e.Data)
	pad4(&hdr, len(e.Data))
	_, err := w.Write(hdr.Bytes())
	if err != nil {
		return fmt.Errorf("rootfs: cpio: %w", err)
	}
	return nil
}

func pad4(b *bytes.Buffer, n int) {
	for ; n%4 != 0; n++ {
		b.WriteByte(0)
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Gzip compresses the archive with a fixed level and a zero header (no name, no
// mtime), so the same entries always give the same bytes.
func (a *Archive) Gzip() ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("rootfs: gzip: %w", err)
	}
	if _, err := a.WriteTo(zw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("rootfs: gzip: %w", err)
	}
	return buf.Bytes(), nil
}

// ReadCPIO parses a newc archive back into entries (without the trailer). It is
// used by tests and by `mkimage -list`.
func ReadCPIO(r io.Reader) ([]Entry, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("rootfs: cpio: %w", err)
	}
	var out []Entry
	off := 0
	for {
		if len(data)-off < 110 {
			return nil, fmt.Errorf("rootfs: cpio: truncated header at %d", off)
		}
		h := data[off : off+110]
		if string(h[:6]) != "070701" {
			return nil, fmt.Errorf("rootfs: cpio: bad magic %q at %d", h[:6], off)
		}
		var f [13]uint32
		for i := range f {
			var v uint32
			if _, err := fmt.Sscanf(string(h[6+8*i:14+8*i]), "%08x", &v); err != nil {
				return nil, fmt.Errorf("rootfs: cpio: field %d at %d: %w", i, off, err)
			}
			f[i] = v
		}
		mode, size, major, minor, namesize := f[1], int(f[6]), f[9], f[10], int(f[11])
		nameStart := off + 110
		if namesize < 1 || nameStart+namesize > len(data) {
			return nil, fmt.Errorf("rootfs: cpio: bad name size at %d", off)
		}
		name := string(data[nameStart : nameStart+namesize-1])
		dataStart := align4(nameStart + namesize)
		if size < 0 || dataStart+size > len(data) {
			return nil, fmt.Errorf("rootfs: cpio: %s: truncated data", name)
		}
		if name == "TRAILER!!!" {
			return out, nil
		}
		out = append(out, Entry{Name: name, Mode: mode, Data: data[dataStart : dataStart+size], Major: major, Minor: minor})
		off = align4(dataStart + size)
	}
}

func align4(n int) int { return (n + 3) &^ 3 }
