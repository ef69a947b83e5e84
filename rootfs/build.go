// Package rootfs builds a board's boot image: the kernel from a Debian package,
// and a reproducible initramfs holding the cpe binary as /init, the board file
// and the kernel modules the board loads.
package rootfs

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"cpe/board"
)

// Paths inside the image that the boot code reads (cpe/boot uses the same names).
const (
	BoardPath   = "etc/board.json"
	ModulesLoad = "etc/modules.load" // absolute module paths, one a line, in load order
)

// Options says what to build and where.
type Options struct {
	BoardDir string // board/<name>, holding board.json
	Binary   string // the static cpe binary for the board's GOARCH
	OutDir   string // out/<board>: kernel, initramfs.cpio.gz, cmdline, perm.img
	CacheDir string // out/cache: downloaded .deb files and their unpacked trees
	// AptTimeout bounds every apt call; Debian's mirror has had long DNS outages.
	AptTimeout time.Duration
	Logf       func(format string, args ...any)
}

// Result describes the built image.
type Result struct {
	KernelPackage string
	KernelVersion string // the directory name under /lib/modules
	Modules       []string
	Builtin       []string
	Programs      []string // the board's programs and the libraries they load
	Initramfs     string
	SHA256        string
	Size          int64
	PermCreated   bool
}

// Build fetches the board's kernel, assembles the initramfs and writes the image
// files into OutDir. perm.img is created only when it does not exist.
func Build(ctx context.Context, o Options) (*Result, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.AptTimeout == 0 {
		o.AptTimeout = 5 * time.Minute
	}
	boardDoc, err := os.ReadFile(filepath.Join(o.BoardDir, "board.json"))
	if err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	b, err := board.Parse(boardDoc)
	if err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("rootfs: the cpe binary: %w", err)
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	k, err := fetchKernel(ctx, o, b.Kernel.Package)
	if err != nil {
		return nil, err
	}
	res := &Result{KernelPackage: k.pkg + " " + k.version, KernelVersion: k.kver}

	modDir := filepath.Join(k.root, "lib/modules", k.kver)
	dep, err := os.Open(filepath.Join(modDir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	defer dep.Close()
	var builtin io.Reader
	if f, err := os.Open(filepath.Join(modDir, "modules.builtin")); err == nil {
		defer f.Close()
		builtin = f
	}
	db, err := ParseModules(dep, builtin)
	if err != nil {
		return nil, err
	}
	paths, bi, err := db.Closure(b.Modules)
	if err != nil {
		return nil, fmt.Errorf("%w (kernel %s)", err, k.kver)
	}
	res.Builtin = bi

	a := NewArchive()
	var load strings.Builder
	for _, p := range paths {
		data, plain, err := readModule(ctx, filepath.Join(modDir, p))
		if err != nil {
			return nil, err
		}
		abs := "/lib/modules/" + k.kver + "/" + plain
		if err := a.File(abs, 0o644, data); err != nil {
			return nil, err
		}
		load.WriteString(abs + "\n")
		res.Modules = append(res.Modules, board.ModuleName(p))
	}
	if err := skeleton(a, bin, boardDoc, []byte(load.String())); err != nil {
		return nil, err
	}
	if len(b.Programs) > 0 {
		files, err := ProgramFiles("", b.GOARCH, b.Programs, LibDirs(b.GOARCH))
		if err != nil {
			return nil, err
		}
		if err := AddPrograms(a, "", files); err != nil {
			return nil, err
		}
		res.Programs = files
	}
	gz, err := a.Gzip()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(gz)
	res.SHA256, res.Size = hex.EncodeToString(sum[:]), int64(len(gz))
	res.Initramfs = filepath.Join(o.OutDir, "initramfs.cpio.gz")
	if err := writeFile(res.Initramfs, gz); err != nil {
		return nil, err
	}
	if err := copyFile(k.vmlinuz, filepath.Join(o.OutDir, "kernel")); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(o.OutDir, "cmdline"), []byte(b.Cmdline+"\n")); err != nil {
		return nil, err
	}
	// The qemu harness reads the NIC slots and machine settings from here.
	if err := writeFile(filepath.Join(o.OutDir, "board.json"), boardDoc); err != nil {
		return nil, err
	}
	res.PermCreated, err = makePerm(ctx, filepath.Join(o.OutDir, "perm.img"), b.Perm)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// skeleton adds what every image has besides the modules.
func skeleton(a *Archive, bin, boardDoc, load []byte) error {
	var errs []error
	for _, d := range []struct {
		name string
		perm uint32
	}{
		{"bin", 0o755}, {"dev", 0o755}, {"etc", 0o755}, {"lib/modules", 0o755},
		{"perm", 0o755}, {"proc", 0o555}, {"root", 0o700}, {"run", 0o755},
		{"sys", 0o555}, {"tmp", 0o1777}, {"var", 0o755},
	} {
		errs = append(errs, a.Dir(d.name, d.perm))
	}
	errs = append(errs,
		// The kernel opens /dev/console for init's stdin/out/err before devtmpfs
		// is mounted, so the node must be in the archive itself.
		a.CharDev("dev/console", 0o600, 5, 1),
		a.File("init", 0o755, bin),
		a.Symlink("bin/cpe", "/init"),
		a.Symlink("var/run", "/run"),
		a.Symlink("var/tmp", "/tmp"),
		a.File(BoardPath, 0o644, boardDoc),
		a.File(ModulesLoad, 0o644, load),
	)
	return errors.Join(errs...)
}

// readModule returns a module's contents uncompressed, so that the device can
// hand them to finit_module without a decompressor, and its path without the
// compression suffix.
func readModule(ctx context.Context, path string) ([]byte, string, error) {
	rel := path[strings.Index(path, "/kernel/")+1:]
	switch {
	case strings.HasSuffix(path, ".ko"):
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, "", fmt.Errorf("rootfs: %w", err)
		}
		return data, rel, nil
	case strings.HasSuffix(path, ".ko.gz"):
		f, err := os.Open(path)
		if err != nil {
			return nil, "", fmt.Errorf("rootfs: %w", err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, "", fmt.Errorf("rootfs: %s: %w", path, err)
		}
		data, err := io.ReadAll(zr)
		if err != nil {
			return nil, "", fmt.Errorf("rootfs: %s: %w", path, err)
		}
		return data, strings.TrimSuffix(rel, ".gz"), nil
	case strings.HasSuffix(path, ".ko.xz"), strings.HasSuffix(path, ".ko.zst"):
		tool := "xz"
		if strings.HasSuffix(path, ".zst") {
			tool = "zstd"
		}
		var out, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, tool, "-dc", path)
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			return nil, "", fmt.Errorf("rootfs: %s -dc %s: %w: %s", tool, path, err, strings.TrimSpace(stderr.String()))
		}
		return out.Bytes(), rel[:strings.LastIndex(rel, ".")], nil
	}
	return nil, "", fmt.Errorf("rootfs: %s: not a kernel module file", path)
}

type kernel struct {
	pkg, version string
	root         string // the unpacked package
	kver         string
	vmlinuz      string
}

// fetchKernel resolves a metapackage (linux-image-amd64) to the kernel package it
// depends on, downloads that package into the cache unless it is there already,
// unpacks it and makes sure modules.dep exists (the .deb leaves it to postinst).
func fetchKernel(ctx context.Context, o Options, pkg string) (*kernel, error) {
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	apt := func(args ...string) (string, error) {
		c, cancel := context.WithTimeout(ctx, o.AptTimeout)
		defer cancel()
		var out, stderr bytes.Buffer
		cmd := exec.CommandContext(c, args[0], args[1:]...)
		cmd.Dir = o.CacheDir
		cmd.Stdout, cmd.Stderr = &out, &stderr
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
		err := cmd.Run()
		if c.Err() != nil {
			return "", fmt.Errorf("%s: gave up after %v (is the Debian mirror reachable?)", strings.Join(args, " "), o.AptTimeout)
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return out.String(), nil
	}
	// show prints the candidate's control record; an empty answer means apt's
	// lists do not know the package (yet).
	show := func(name string) (string, error) {
		out, err := apt("apt-cache", "show", "--no-all-versions", name)
		if err != nil || strings.TrimSpace(out) == "" {
			o.Logf("apt-cache does not know %s; running apt-get update", name)
			if _, uerr := apt("apt-get", "update"); uerr != nil {
				return "", fmt.Errorf("rootfs: kernel package %s: %w", name, uerr)
			}
			out, err = apt("apt-cache", "show", "--no-all-versions", name)
		}
		if err != nil || strings.TrimSpace(out) == "" {
			return "", fmt.Errorf("rootfs: kernel package %s not found by apt-cache: %v", name, err)
		}
		return out, nil
	}
	rec, err := show(pkg)
	if err != nil {
		if k, cerr := cachedKernel(o.CacheDir, pkg); cerr == nil {
			o.Logf("%v; using the cached %s", err, filepath.Base(k))
			return unpackKernel(ctx, o, k)
		}
		return nil, err
	}
	if dep := kernelDependency(field(rec, "Depends")); dep != "" {
		pkg = dep
		if rec, err = show(pkg); err != nil {
			return nil, err
		}
	}
	version, arch := field(rec, "Version"), field(rec, "Architecture")
	deb := filepath.Join(o.CacheDir, fmt.Sprintf("%s_%s_%s.deb", pkg, strings.ReplaceAll(version, ":", "%3a"), arch))
	if _, err := os.Stat(deb); err != nil {
		o.Logf("downloading %s %s", pkg, version)
		if _, err := apt("apt-get", "download", pkg+"="+version); err != nil {
			return nil, fmt.Errorf("rootfs: kernel package %s: %w", pkg, err)
		}
		if _, err := os.Stat(deb); err != nil {
			return nil, fmt.Errorf("rootfs: kernel package %s: apt-get download did not leave %s", pkg, deb)
		}
	}
	return unpackKernel(ctx, o, deb)
}

// cachedKernel finds a single previously downloaded package for offline builds.
func cachedKernel(dir, pkg string) (string, error) {
	m, _ := filepath.Glob(filepath.Join(dir, "linux-image-*.deb"))
	if !strings.HasPrefix(pkg, "linux-image-") || len(m) != 1 {
		return "", errors.New("no single cached kernel package")
	}
	return m[0], nil
}

// kernelDependency picks "linux-image-6.1.0-56-amd64" out of a metapackage's
// Depends field.
func kernelDependency(depends string) string {
	for _, d := range strings.Split(depends, ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(d), " ")
		if rest, ok := strings.CutPrefix(name, "linux-image-"); ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' {
			return name
		}
	}
	return ""
}

func field(rec, name string) string {
	for _, l := range strings.Split(rec, "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func unpackKernel(ctx context.Context, o Options, deb string) (*kernel, error) {
	base := strings.TrimSuffix(filepath.Base(deb), ".deb")
	root := filepath.Join(o.CacheDir, base)
	marker := filepath.Join(root, ".unpacked")
	if _, err := os.Stat(marker); err != nil {
		o.Logf("unpacking %s", filepath.Base(deb))
		os.RemoveAll(root)
		if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("rootfs: dpkg-deb -x %s: %w: %s", deb, err, strings.TrimSpace(string(out)))
		}
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			return nil, fmt.Errorf("rootfs: %w", err)
		}
	}
	k := &kernel{root: root}
	if parts := strings.Split(base, "_"); len(parts) == 3 {
		k.pkg, k.version = parts[0], strings.ReplaceAll(parts[1], "%3a", ":")
	}
	mods, _ := filepath.Glob(filepath.Join(root, "lib/modules/*"))
	if len(mods) != 1 {
		return nil, fmt.Errorf("rootfs: %s: want one directory under lib/modules, found %d", deb, len(mods))
	}
	k.kver = filepath.Base(mods[0])
	vm, _ := filepath.Glob(filepath.Join(root, "boot/vmlinuz-*"))
	if len(vm) != 1 {
		return nil, fmt.Errorf("rootfs: %s: want one boot/vmlinuz-*, found %d", deb, len(vm))
	}
	k.vmlinuz = vm[0]
	if _, err := os.Stat(filepath.Join(mods[0], "modules.dep")); err != nil {
		o.Logf("running depmod for %s", k.kver)
		if out, err := exec.CommandContext(ctx, "depmod", "-b", root, k.kver).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("rootfs: depmod -b %s %s (Debian package kmod): %w: %s", root, k.kver, err, strings.TrimSpace(string(out)))
		}
	}
	return k, nil
}

// makePerm creates the persistent disk unless it exists: it holds the device's
// configuration and must survive every rebuild.
func makePerm(ctx context.Context, path string, p board.Perm) (bool, error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	}
	if p.FSType != "ext4" {
		return false, fmt.Errorf("rootfs: perm.img: only ext4 can be created, board wants %s", p.FSType)
	}
	size := p.SizeMiB
	if size == 0 {
		size = 64
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return false, fmt.Errorf("rootfs: %w", err)
	}
	err = f.Truncate(int64(size) << 20)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("rootfs: perm.img: %w", err)
	}
	if out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-L", "perm", tmp).CombinedOutput(); err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("rootfs: mkfs.ext4 (Debian package e2fsprogs): %w: %s", err, strings.TrimSpace(string(out)))
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("rootfs: %w", err)
	}
	return true, nil
}

func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	return nil
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	return writeFile(dst, data)
}

// Sorted returns names sorted, for stable log output.
func Sorted(names []string) []string {
	s := append([]string(nil), names...)
	sort.Strings(s)
	return s
}
