package config

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem with a document, at a JSON path such as
// "wan[0].dhcp6.prefix_hint". The empty path is the document itself.
type Error struct{ Path, Msg string }

func (e Error) Error() string {
	p := e.Path
	if p == "" {
		p = "(document)"
	}
	return p + ": " + e.Msg
}

// Errors lists every problem found, in document order.
type Errors []Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func pathErr(p, msg string) Errors { return Errors{{Path: p, Msg: msg}} }

// ErrNotLeaf is matched (errors.Is) by the error Set returns when it is given
// a value for a block or a list element, so a CLI can tell "the last word is
// part of the path" from "the value is wrong".
var ErrNotLeaf = errors.New("config: path names a block, not a value")

// notLeaf is the Errors for a value given to a block.
type notLeaf struct{ Errors }

func (notLeaf) Is(target error) bool { return target == ErrNotLeaf }

func notLeafErr(p, msg string) error { return notLeaf{pathErr(p, msg)} }

// joinPath appends a field name. Keys that could be misread in a path
// (unknown fields can be anything) are quoted.
func joinPath(p, name string) string {
	if !plainKey(name) {
		return p + "[" + strconv.Quote(name) + "]"
	}
	if p == "" {
		return name
	}
	return p + "." + name
}

func indexPath(p string, i int) string { return p + "[" + strconv.Itoa(i) + "]" }

func plainKey(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !isAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// within reports whether p is q or below it.
func within(p, q string) bool {
	return p == q || q == "" ||
		strings.HasPrefix(p, q) && (p[len(q)] == '.' || p[len(q)] == '[')
}

// orderKey turns a path into positions in the schema (field order) and in
// lists (index) so errors sort the way the document reads.
func orderKey(p string) []int {
	n, err := root()
	if err != nil {
		return nil
	}
	var key []int
	for p != "" {
		var step string
		if p[0] == '[' {
			end := strings.IndexByte(p, ']')
			if end < 0 {
				break
			}
			step, p = p[1:end], p[end+1:]
			if i, err := strconv.Atoi(step); err == nil && n != nil && n.kind != kObject {
				key = append(key, i)
				if n.kind == kList {
					n = n.elem
				} else {
					n = nil
				}
				continue
			}
		} else {
			p = strings.TrimPrefix(p, ".")
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			step, p = p[:end], p[end:]
		}
		if n == nil || n.kind != kObject || n.byName[step] == nil {
			// Unknown fields go after the known ones of their object.
			return append(key, 1<<20)
		}
		f := n.byName[step]
		key = append(key, f.index)
		n = f.node
	}
	return key
}

// sortErrors orders errors by where they are in the document; errors at the
// same place keep the order they were found in.
func sortErrors(es Errors) {
	keys := make(map[string][]int, len(es))
	for _, e := range es {
		if _, ok := keys[e.Path]; !ok {
			keys[e.Path] = orderKey(e.Path)
		}
	}
	slices.SortStableFunc(es, func(a, b Error) int {
		return cmp.Or(slices.Compare(keys[a.Path], keys[b.Path]), strings.Compare(a.Path, b.Path))
	})
}
