package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// fileSystem is the part of the OS the store writes through. Tests swap it
// for one that loses power between any two steps, so every crash point of
// an atomic write can be replayed.
type fileSystem interface {
	MkdirAll(path string, perm os.FileMode) error
	ReadDir(dir string) ([]os.DirEntry, error)
	ReadFile(name string) ([]byte, error)
	CreateTemp(dir, pattern string) (tempFile, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	SyncDir(dir string) error
}

// tempFile is the part of *os.File an atomic write uses.
type tempFile interface {
	Name() string
	Chmod(perm os.FileMode) error
	Write(p []byte) (int, error)
	Sync() error
	Close() error
}

type osFS struct{}

func (osFS) MkdirAll(path string, perm os.FileMode) error { return os.MkdirAll(path, perm) }
func (osFS) ReadDir(dir string) ([]os.DirEntry, error)    { return os.ReadDir(dir) }
func (osFS) ReadFile(name string) ([]byte, error)         { return os.ReadFile(name) }
func (osFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                     { return os.Remove(name) }

func (osFS) CreateTemp(dir, pattern string) (tempFile, error) {
	return os.CreateTemp(dir, pattern)
}

// SyncDir makes the directory entries (creates, renames, removes) in dir
// durable. Without it ext4 may forget a rename after a power cut even though
// the renamed file's data was synced.
func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Temp files are hidden and carry the target's name, so a leftover one says
// which write it belonged to, and CleanTemp can find it without guessing.
const (
	tempPrefix = "."
	tempMark   = ".tmp-"
)

func isTempName(name string) bool {
	return strings.HasPrefix(name, tempPrefix) && strings.Contains(name, tempMark)
}

// WriteFileAtomic replaces path with data so that after a crash at any point
// the file holds either its old content or the new one, never a mix or
// nothing: it writes a uniquely named temp file in the same directory, fsyncs
// and closes it, renames it over path and fsyncs the directory. On error the
// temp file is removed and path is untouched (unless the error came from the
// final directory fsync, when path may already hold the new data). The file
// gets exactly perm, regardless of the umask.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := writeFileAtomic(osFS{}, path, data, perm); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

func writeFileAtomic(fsys fileSystem, path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	f, err := fsys.CreateTemp(dir, tempPrefix+base+tempMark+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	closed, renamed := false, false
	defer func() {
		if err == nil || renamed {
			return
		}
		if !closed {
			f.Close()
		}
		if rerr := fsys.Remove(tmp); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("remove temp file: %w", rerr))
		}
	}()
	step := func(what string, err error) error {
		if err != nil {
			return fmt.Errorf("write %s: %s: %w", path, what, err)
		}
		return nil
	}
	if err := step("chmod", f.Chmod(perm)); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return step("write", err)
	}
	// Without this fsync ext4 may commit the rename before the data, and a
	// power cut leaves a zero-length file under the final name.
	if err := step("fsync", f.Sync()); err != nil {
		return err
	}
	closed = true
	if err := step("close", f.Close()); err != nil {
		return err
	}
	if err := step("rename", fsys.Rename(tmp, path)); err != nil {
		return err
	}
	renamed = true
	return step("fsync directory", fsys.SyncDir(dir))
}

// CleanTemp removes the temp files that writes interrupted by a crash left in
// dir and returns their names. Call it once at boot, before anything writes
// to dir: it cannot tell a leftover from a write in progress.
func CleanTemp(dir string) (removed []string, err error) {
	removed, err = cleanTemp(osFS{}, dir)
	if err != nil {
		return removed, fmt.Errorf("store: %w", err)
	}
	return removed, nil
}

func cleanTemp(fsys fileSystem, dir string) (removed []string, err error) {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("clean temp files: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !isTempName(e.Name()) {
			continue
		}
		if err := fsys.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("clean temp files: %w", err))
			continue
		}
		removed = append(removed, e.Name())
	}
	return removed, errors.Join(errs...)
}
