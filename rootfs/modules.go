package rootfs

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"

	"cpe/board"
)

// ModuleDB is what modules.dep and modules.builtin say about a kernel's modules.
type ModuleDB struct {
	path    map[string]string   // module name → path relative to /lib/modules/<kver>
	deps    map[string][]string // path → paths it needs
	builtin map[string]bool     // module name → built into vmlinuz
}

// ParseModules reads modules.dep ("kernel/a.ko: kernel/b.ko kernel/c.ko") and,
// when builtin is not nil, modules.builtin (one path per line).
func ParseModules(dep, builtin io.Reader) (*ModuleDB, error) {
	db := &ModuleDB{path: map[string]string{}, deps: map[string][]string{}, builtin: map[string]bool{}}
	sc := bufio.NewScanner(dep)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, rest, ok := strings.Cut(line, ":")
		if !ok || p == "" {
			return nil, fmt.Errorf("rootfs: modules.dep line %d: no ':' in %q", n, line)
		}
		name := board.ModuleName(p)
		if _, dup := db.path[name]; dup {
			return nil, fmt.Errorf("rootfs: modules.dep line %d: %s listed twice", n, name)
		}
		db.path[name] = p
		db.deps[p] = strings.Fields(rest)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("rootfs: modules.dep: %w", err)
	}
	if builtin != nil {
		sc := bufio.NewScanner(builtin)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				db.builtin[board.ModuleName(l)] = true
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("rootfs: modules.builtin: %w", err)
		}
	}
	return db, nil
}

// Closure returns the module files to load, in an order where every module comes
// after the modules it needs, keeping the requested order otherwise. Built-in
// modules are skipped and reported; a name that is neither is an error.
func (db *ModuleDB) Closure(names []string) (paths, builtin []string, err error) {
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var visit func(p string, chain []string) error
	visit = func(p string, chain []string) error {
		switch state[p] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("rootfs: module dependency cycle: %s", strings.Join(append(chain, p), " → "))
		}
		deps, ok := db.deps[p]
		if !ok {
			return fmt.Errorf("rootfs: %s needs %s, which modules.dep does not list", chain[len(chain)-1], p)
		}
		state[p] = visiting
		for _, d := range deps {
			if err := visit(d, append(chain, p)); err != nil {
				return err
			}
		}
		state[p] = done
		paths = append(paths, p)
		return nil
	}
	var missing []string
	for _, n := range names {
		n = board.ModuleName(n)
		p, ok := db.path[n]
		switch {
		case ok:
			if err := visit(p, nil); err != nil {
				return nil, nil, err
			}
		case db.builtin[n]:
			builtin = append(builtin, n)
		default:
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, nil, fmt.Errorf("rootfs: modules neither in modules.dep nor built in: %s", strings.Join(missing, ", "))
	}
	return paths, builtin, nil
}
