package rootfs

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// machines maps GOARCH to the ELF machine a board's programs must be built for.
var machines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"386":     elf.EM_386,
	"arm64":   elf.EM_AARCH64,
	"arm":     elf.EM_ARM,
	"mips":    elf.EM_MIPS,
	"mipsle":  elf.EM_MIPS,
	"riscv64": elf.EM_RISCV,
}

// ProgramFiles resolves the board's programs (absolute paths of dynamically
// linked executables on the build host, such as wpa_supplicant) to every file
// the image needs to run them: the program, its ELF interpreter and the
// closure of its DT_NEEDED libraries, each found in libDirs in order as the
// dynamic loader would without a cache. root is prefixed to every lookup (""
// for the host itself). Paths are returned without root, sorted, with each
// library under the directory it was found in; symbolic links are followed,
// so the image holds plain files.
func ProgramFiles(root, goarch string, programs, libDirs []string) ([]string, error) {
	want, ok := machines[goarch]
	if !ok {
		return nil, fmt.Errorf("rootfs: programs: no ELF machine known for GOARCH %s", goarch)
	}
	seen := map[string]bool{}
	loaded := map[string]bool{} // by file name, as the loader matches DT_NEEDED
	var files []string
	var visit func(p string, isLib bool) error
	visit = func(p string, isLib bool) error {
		if seen[p] {
			return nil
		}
		seen[p] = true
		loaded[path.Base(p)] = true
		files = append(files, p)
		f, err := elf.Open(filepath.Join(root, p))
		if err != nil {
			return fmt.Errorf("rootfs: program file %s: %w", p, err)
		}
		defer f.Close()
		if f.Machine != want {
			return fmt.Errorf("rootfs: %s is for %v, the board (%s) needs %v: build the image on a host of the board's architecture", p, f.Machine, goarch, want)
		}
		if !isLib {
			for _, prog := range f.Progs {
				if prog.Type != elf.PT_INTERP {
					continue
				}
				b := make([]byte, prog.Filesz)
				if _, err := prog.ReadAt(b, 0); err != nil {
					return fmt.Errorf("rootfs: %s: interpreter: %w", p, err)
				}
				interp := strings.TrimRight(string(b), "\x00")
				if err := visit(interp, true); err != nil {
					return err
				}
			}
		}
		needed, err := f.ImportedLibraries()
		if err != nil {
			return fmt.Errorf("rootfs: %s: %w", p, err)
		}
		for _, lib := range needed {
			if loaded[lib] {
				continue // libc names the interpreter, which is in already
			}
			found := ""
			for _, d := range libDirs {
				cand := path.Join(d, lib)
				if _, err := os.Stat(filepath.Join(root, cand)); err == nil {
					found = cand
					break
				}
			}
			if found == "" {
				return fmt.Errorf("rootfs: %s needs %s, which is in none of %s", p, lib, strings.Join(libDirs, " "))
			}
			if err := visit(found, true); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range programs {
		if !path.IsAbs(p) {
			return nil, fmt.Errorf("rootfs: program %q: not an absolute path", p)
		}
		if err := visit(path.Clean(p), false); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%w (is its Debian package installed? make deps installs it)", err)
			}
			return nil, err
		}
	}
	slices.Sort(files)
	return files, nil
}

// LibDirs is where the dynamic loader of a Debian system looks without
// /etc/ld.so.cache, for the multiarch triplet of goarch.
func LibDirs(goarch string) []string {
	triplet := map[string]string{
		"amd64": "x86_64-linux-gnu", "386": "i386-linux-gnu", "arm64": "aarch64-linux-gnu",
		"arm": "arm-linux-gnueabihf", "mips": "mips-linux-gnu", "mipsle": "mipsel-linux-gnu",
		"riscv64": "riscv64-linux-gnu",
	}[goarch]
	var dirs []string
	if triplet != "" {
		dirs = append(dirs, "/lib/"+triplet, "/usr/lib/"+triplet)
	}
	return append(dirs, "/lib", "/usr/lib")
}

// AddPrograms puts the files ProgramFiles listed into a, with their parent
// directories, reading them from root.
func AddPrograms(a *Archive, root string, files []string) error {
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return fmt.Errorf("rootfs: %w", err)
		}
		for d := path.Dir(f); d != "/"; d = path.Dir(d) {
			if err := a.Dir(d, 0o755); err != nil {
				return err
			}
		}
		if err := a.File(f, 0o755, data); err != nil {
			return err
		}
	}
	return nil
}
