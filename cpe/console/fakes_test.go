package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fnode is a node of the fake schema: enough of cpe/config's shape (blocks,
// lists, typed leaves) to exercise every path the console takes.
type fnode struct {
	kind     string // block, list, string, int, enum, bool
	help     string
	fields   map[string]*fnode
	elem     *fnode
	min, max int
	values   []string
}

var testSchema = &fnode{kind: "block", help: "the configuration", fields: map[string]*fnode{
	"system": {kind: "block", help: "system settings", fields: map[string]*fnode{
		"hostname": {kind: "string", help: "the name of the box"},
	}},
	"wan": {kind: "list", help: "uplinks", elem: &fnode{kind: "block", help: "an uplink", fields: map[string]*fnode{
		"interface": {kind: "string", help: "network interface"},
		"mode":      {kind: "enum", help: "how the address is found", values: []string{"dhcp", "static"}},
		"dhcp6": {kind: "block", help: "DHCPv6 client", fields: map[string]*fnode{
			"prefix_hint": {kind: "int", help: "delegated prefix length to ask for", min: 48, max: 64},
		}},
	}}},
	"mesh": {kind: "block", help: "wireless mesh", fields: map[string]*fnode{
		"enabled": {kind: "bool", help: "take part in the mesh"},
	}},
}}

// fakeSchema is a tiny map-based JSON editor. plainErrors leaves ErrNotLeaf
// out of its errors, as an adapter that does not know about it would.
type fakeSchema struct{ plainErrors bool }

func decodeDoc(doc []byte) (any, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return map[string]any{}, nil
	}
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("bad document: %w", err)
	}
	return v, nil
}

func encodeDoc(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func joinPath(where, name string) string {
	if where == "" {
		return name
	}
	return where + "." + name
}

func (f fakeSchema) Set(doc []byte, path []string, value string) ([]byte, error) {
	root, err := decodeDoc(doc)
	if err != nil {
		return nil, err
	}
	v, err := f.setIn(testSchema, root, path, value, "")
	if err != nil {
		return nil, err
	}
	return encodeDoc(v)
}

func (f fakeSchema) setIn(n *fnode, cur any, path []string, value, where string) (any, error) {
	if len(path) == 0 {
		switch n.kind {
		case "block", "list":
			if value != "" {
				if f.plainErrors {
					return nil, fmt.Errorf("%s: is a %s, give one of its fields", where, n.kind)
				}
				return nil, fmt.Errorf("%s: is a %s: %w", where, n.kind, ErrNotLeaf)
			}
			if cur == nil && n.kind == "block" {
				cur = map[string]any{}
			}
			if cur == nil {
				cur = []any{}
			}
			return cur, nil
		case "bool":
			switch value {
			case "", "true":
				return true, nil
			case "false":
				return false, nil
			}
			return nil, fmt.Errorf("%s: %q is not true or false", where, value)
		case "string":
			if value == "" {
				return nil, fmt.Errorf("%s: needs a value", where)
			}
			return value, nil
		case "int":
			i, err := strconv.Atoi(value)
			if err != nil || i < n.min || i > n.max {
				return nil, fmt.Errorf("%s: must be between %d and %d", where, n.min, n.max)
			}
			return json.Number(strconv.Itoa(i)), nil
		case "enum":
			if !slices.Contains(n.values, value) {
				return nil, fmt.Errorf("%s: must be one of %s", where, strings.Join(n.values, ", "))
			}
			return value, nil
		}
	}
	switch n.kind {
	case "block":
		m, _ := cur.(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		fn, ok := n.fields[path[0]]
		if !ok {
			at := where
			if at == "" {
				at = "(top)"
			}
			return nil, fmt.Errorf("%s: unknown field %q", at, path[0])
		}
		v, err := f.setIn(fn, m[path[0]], path[1:], value, joinPath(where, path[0]))
		if err != nil {
			return nil, err
		}
		m[path[0]] = v
		return m, nil
	case "list":
		l, _ := cur.([]any)
		i, err := strconv.Atoi(path[0])
		if err != nil || i < 0 || i > len(l) {
			return nil, fmt.Errorf("%s: %q is not an index 0..%d", where, path[0], len(l))
		}
		var elem any
		if i < len(l) {
			elem = l[i]
		}
		v, err := f.setIn(n.elem, elem, path[1:], value, fmt.Sprintf("%s[%d]", where, i))
		if err != nil {
			return nil, err
		}
		if i == len(l) {
			l = append(l, v)
		} else {
			l[i] = v
		}
		return l, nil
	}
	return nil, fmt.Errorf("%s: takes a value, not %q", where, path[0])
}

func (fakeSchema) Delete(doc []byte, path []string) ([]byte, error) {
	root, err := decodeDoc(doc)
	if err != nil {
		return nil, err
	}
	parent, err := walkDoc(root, path[:len(path)-1])
	if err != nil {
		return nil, err
	}
	last := path[len(path)-1]
	switch p := parent.(type) {
	case map[string]any:
		if _, ok := p[last]; !ok {
			return nil, fmt.Errorf("%s: not set", strings.Join(path, " "))
		}
		delete(p, last)
	case []any:
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i >= len(p) {
			return nil, fmt.Errorf("%s: not set", strings.Join(path, " "))
		}
		// Lists live inside maps: rebuild the parent's slice.
		grand, _ := walkDoc(root, path[:len(path)-2])
		grand.(map[string]any)[path[len(path)-2]] = slices.Delete(p, i, i+1)
	default:
		return nil, fmt.Errorf("%s: not set", strings.Join(path, " "))
	}
	return encodeDoc(root)
}

func walkDoc(cur any, path []string) (any, error) {
	for i, w := range path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[w]
			if !ok {
				return nil, fmt.Errorf("%s: not set", strings.Join(path[:i+1], " "))
			}
			cur = v
		case []any:
			n, err := strconv.Atoi(w)
			if err != nil || n < 0 || n >= len(c) {
				return nil, fmt.Errorf("%s: not set", strings.Join(path[:i+1], " "))
			}
			cur = c[n]
		default:
			return nil, fmt.Errorf("%s: not set", strings.Join(path[:i+1], " "))
		}
	}
	return cur, nil
}

func (fakeSchema) Get(doc []byte, path []string) ([]byte, error) {
	root, err := decodeDoc(doc)
	if err != nil {
		return nil, err
	}
	v, err := walkDoc(root, path)
	if err != nil {
		return nil, err
	}
	return encodeDoc(v)
}

func (fakeSchema) Complete(doc []byte, path []string) []Completion {
	root, _ := decodeDoc(doc)
	n, cur := testSchema, root
	for _, w := range path {
		switch n.kind {
		case "block":
			n = n.fields[w]
			if n == nil {
				return nil
			}
			m, _ := cur.(map[string]any)
			cur = m[w]
		case "list":
			i, err := strconv.Atoi(w)
			if err != nil {
				return nil
			}
			l, _ := cur.([]any)
			cur = nil
			if i >= 0 && i < len(l) {
				cur = l[i]
			}
			n = n.elem
		default:
			return nil
		}
	}
	var out []Completion
	switch n.kind {
	case "block":
		names := make([]string, 0, len(n.fields))
		for k := range n.fields {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			out = append(out, Completion{k, n.fields[k].help})
		}
	case "list":
		l, _ := cur.([]any)
		for i := range l {
			out = append(out, Completion{strconv.Itoa(i), "existing entry"})
		}
		out = append(out, Completion{"<index>", "a new entry at the end"})
	case "int":
		out = append(out, Completion{fmt.Sprintf("<integer %d..%d>", n.min, n.max), n.help})
	case "enum":
		for _, v := range n.values {
			out = append(out, Completion{v, ""})
		}
	case "bool":
		out = append(out, Completion{"true", ""}, Completion{"false", ""})
	case "string":
		out = append(out, Completion{"<string>", n.help})
	}
	return out
}

func (fakeSchema) Describe(path []string) (string, error) {
	n := testSchema
	for _, w := range path {
		switch n.kind {
		case "block":
			n = n.fields[w]
		case "list":
			n = n.elem
		default:
			n = nil
		}
		if n == nil {
			return "", fmt.Errorf("unknown path %q", strings.Join(path, " "))
		}
	}
	return strings.Join(path, " ") + ": " + n.help, nil
}

// Check wants an interface on every uplink and refuses the hostname "bad".
func (fakeSchema) Check(doc []byte) error {
	root, err := decodeDoc(doc)
	if err != nil {
		return err
	}
	var problems []string
	m, _ := root.(map[string]any)
	if sys, ok := m["system"].(map[string]any); ok && sys["hostname"] == "bad" {
		problems = append(problems, "system.hostname: \"bad\" is not allowed")
	}
	wans, _ := m["wan"].([]any)
	for i, w := range wans {
		if wm, _ := w.(map[string]any); wm["interface"] == nil {
			problems = append(problems, fmt.Sprintf("wan[%d].interface: required", i))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// fakeConfig is a revision store recording the calls the console makes.
type fakeConfig struct {
	mu      sync.Mutex
	revs    [][]byte // newest last
	calls   []string
	pending bool
}

func newFakeConfig(initial string) *fakeConfig {
	return &fakeConfig{revs: [][]byte{[]byte(initial)}}
}

func (f *fakeConfig) Running() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.revs[len(f.revs)-1])
}

func (f *fakeConfig) Revision(back int) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if back < 0 || back >= len(f.revs) {
		return nil, fmt.Errorf("no revision %d: %d kept", back, len(f.revs))
	}
	return bytes.Clone(f.revs[len(f.revs)-1-back]), nil
}

func (f *fakeConfig) Commit(_ context.Context, doc []byte, comment string, within time.Duration) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("commit %q within=%s", comment, within))
	f.revs = append(f.revs, bytes.Clone(doc))
	f.pending = within > 0
	return fmt.Sprintf("commit complete: revision %d", len(f.revs)), nil
}

func (f *fakeConfig) Confirm(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "confirm")
	if !f.pending {
		return "", errors.New("no commit is waiting for confirmation")
	}
	f.pending = false
	return "commit confirmed", nil
}

// Diff lists removed and added lines; good enough to see what changed.
func (f *fakeConfig) Diff(oldName, newName string, a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", oldName, newName)
	for _, l := range la {
		if l != "" && !slices.Contains(lb, l) {
			fmt.Fprintf(&out, "-%s\n", l)
		}
	}
	for _, l := range lb {
		if l != "" && !slices.Contains(la, l) {
			fmt.Fprintf(&out, "+%s\n", l)
		}
	}
	return out.String()
}

// external is a commit by someone else, or a confirmed commit rolled back.
func (f *fakeConfig) external(doc string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revs = append(f.revs, []byte(doc))
}

func (f *fakeConfig) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

const initialDoc = `{
  "system": {
    "hostname": "cpe"
  },
  "wan": [
    {
      "interface": "wan0",
      "mode": "dhcp"
    }
  ]
}
`

// recorder collects what the test commands were asked to do.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, s)
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

// testCommands stand for the daemon's: a few show commands in both modes,
// reboot in operational mode only, echo for the line editor tests.
func testCommands(rec *recorder) []Command {
	return []Command{
		{Words: []string{"show", "version"}, Help: "build version", Run: func(_ context.Context, _ *Session, _ []string, w io.Writer) error {
			_, err := io.WriteString(w, "cpe test\n")
			return err
		}},
		{Words: []string{"show", "commits"}, Help: "stored revisions", Run: func(_ context.Context, _ *Session, _ []string, w io.Writer) error {
			_, err := io.WriteString(w, "ROLLBACK  REVISION\n")
			return err
		}},
		{Words: []string{"show", "log"}, Args: "[N]", Help: "recent log records", Run: func(_ context.Context, _ *Session, args []string, w io.Writer) error {
			fmt.Fprintf(w, "log %v\n", args)
			return nil
		}},
		{Words: []string{"reboot"}, Modes: []Mode{Operational}, Help: "restart the device", Run: func(_ context.Context, _ *Session, _ []string, w io.Writer) error {
			rec.add("reboot")
			_, err := io.WriteString(w, "reboot: now\n")
			return err
		}},
		{Words: []string{"echo"}, Args: "[WORDS...]", Help: "print the words", Run: func(_ context.Context, _ *Session, args []string, w io.Writer) error {
			rec.add(strings.Join(args, " "))
			_, err := fmt.Fprintf(w, "ECHO %s\n", strings.Join(args, " "))
			return err
		}},
	}
}

func newTestConsole(cfg *fakeConfig, rec *recorder, extra ...Command) *Console {
	return New(fakeSchema{}, cfg, append(testCommands(rec), extra...), Options{})
}

// transcript runs lines in s and returns what a user would have seen.
func transcript(ctx context.Context, s *Session, lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(s.Mode().prompt())
		b.WriteString(l)
		b.WriteString("\n")
		s.Exec(ctx, l, &b)
	}
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// checkLeaks fails the test if goroutines of this package outlive it.
func checkLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			leaked := leakedGoroutines()
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("leaked goroutines:\n%s", strings.Join(leaked, "\n\n"))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func leakedGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "cpe/cpe/console.") && !strings.Contains(g, "testing.tRunner") &&
			!strings.Contains(g, "leakedGoroutines") {
			out = append(out, g)
		}
	}
	return out
}
