package config

import (
	"fmt"
	"strconv"
)

// Editing by path words, as typed on the CLI: field names (JSON names),
// list indices as decimal numbers, and for lists of values the value
// itself. "set wan 0 dhcp6 prefix_hint 56" is Set(doc, [wan 0 dhcp6
// prefix_hint], "56").
//
// The functions work on the normalized tree, so a document that does not
// validate yet can still be edited; only what would stop it from decoding
// (syntax, unknown fields, wrong types) is an error. Each returns a fresh
// canonical document and never touches its input.

// Set sets the value at path and returns the canonical document.
//
//   - A scalar field takes value; a boolean with no value becomes true.
//   - A block (dhcp6, ipv4, ...) takes no value: it is created empty,
//     which enables it with its defaults. Missing blocks along the path are
//     created too.
//   - A list index equal to the list's length appends an element; a larger
//     one is an error.
//   - A list of values (dns, addresses, ports) gets value added, once.
//
// The value is checked against the field's type and its own rules at once;
// rules across fields are checked by Parse at commit.
func Set(doc []byte, path []string, value string) ([]byte, error) {
	e, err := newEditor(doc, path)
	if err != nil {
		return nil, err
	}
	if err := e.set(e.n, e.tree, 0, "", value); err != nil {
		return nil, err
	}
	return encodeTree(e.n, e.tree), nil
}

// Delete removes what path names: a field or block, a list element (later
// ones move down), or, when the last word follows a list of values, that
// value.
func Delete(doc []byte, path []string) ([]byte, error) {
	e, err := newEditor(doc, path)
	if err != nil {
		return nil, err
	}
	if err := e.del(e.n, e.tree, 0, ""); err != nil {
		return nil, err
	}
	return encodeTree(e.n, e.tree), nil
}

// Get returns the subtree at path as written (no defaults), as indented
// JSON with a trailing newline. The empty path is the whole document.
func Get(doc []byte, path []string) ([]byte, error) {
	n, err := root()
	if err != nil {
		return nil, err
	}
	tree, errs := editTree(doc)
	if errs != nil {
		return nil, errs
	}
	var cur any = tree
	p := ""
	for i := 0; i < len(path); i++ {
		w := path[i]
		switch n.kind {
		case kObject:
			f := n.byName[w]
			p = joinPath(p, w)
			if f == nil {
				return nil, pathErr(p, "unknown field")
			}
			x, ok := cur.(map[string]any)[f.name]
			if !ok {
				return nil, pathErr(p, "not set")
			}
			cur, n = x, f.node
		case kList:
			l := cur.([]any)
			idx, ok := parseIndex(w)
			if !ok {
				return nil, pathErr(p, fmt.Sprintf("%q is not an index", w))
			}
			p = indexPath(p, idx)
			if idx >= len(l) {
				return nil, pathErr(p, "not set")
			}
			cur, n = l[idx], n.elem
		default:
			return nil, pathErr(p, fmt.Sprintf("unexpected %q: this is a single value", w))
		}
	}
	// encodeTree wants the node that describes cur itself.
	return encodeTree(n, cur), nil
}

// Describe returns the help for the field at path: what it means, its type
// and bounds, its default. List indices in path may be any number.
func Describe(path []string) (string, error) {
	f, _, err := lookupPath(path)
	if err != nil {
		return "", err
	}
	if f == nil {
		return "the configuration: system, wan (uplinks), lan (segments), mesh, firewall", nil
	}
	return f.describe(), nil
}

type editor struct {
	n     *node
	tree  map[string]any
	words []string
}

func newEditor(doc []byte, path []string) (*editor, error) {
	n, err := root()
	if err != nil {
		return nil, err
	}
	if len(path) == 0 {
		return nil, pathErr("", "a path is needed")
	}
	tree, errs := editTree(doc)
	if errs != nil {
		return nil, errs
	}
	return &editor{n: n, tree: tree, words: path}, nil
}

// editTree is the normalized tree of doc; an empty document is an empty
// object, so a configuration can be built from nothing.
func editTree(doc []byte) (map[string]any, Errors) {
	if len(doc) == 0 || isSpace(doc) {
		return map[string]any{}, nil
	}
	tree, errs := normalizeDoc(doc)
	if len(errs) > 0 {
		return nil, errs
	}
	return tree, nil
}

func isSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// parseIndex accepts a list index as written by people: decimal, no sign,
// no leading zeros.
func parseIndex(w string) (int, bool) {
	i, err := strconv.Atoi(w)
	if err != nil || i < 0 || strconv.Itoa(i) != w {
		return 0, false
	}
	return i, true
}

// set walks words[i:] from object m (described by n, at path p).
func (e *editor) set(n *node, m map[string]any, i int, p, value string) error {
	w := e.words[i]
	f := n.byName[w]
	p = joinPath(p, w)
	if f == nil {
		return pathErr(p, "unknown field")
	}
	last := i == len(e.words)-1
	switch f.node.kind {
	case kLeaf:
		if !last {
			return pathErr(p, fmt.Sprintf("unexpected %q: %s takes a single value", e.words[i+1], f.name))
		}
		if value == "" {
			if f.node.leaf != lBool {
				return pathErr(p, "needs a value: "+f.placeholder())
			}
			value = "true"
		}
		v, msg := leafFromWord(f.node, value)
		if msg == "" {
			msg = f.check(v)
		}
		if msg != "" {
			return pathErr(p, msg)
		}
		m[f.name] = leafToTree(f.node, v)
		return nil
	case kValues:
		if !last {
			return pathErr(p, fmt.Sprintf("unexpected %q: give the value to add after %s", e.words[i+1], f.name))
		}
		if value == "" {
			return pathErr(p, "needs a value to add: "+f.placeholder())
		}
		v, msg := leafFromWord(f.node.elem, value)
		if msg == "" {
			msg = f.checkElem(v)
		}
		if msg != "" {
			return pathErr(p, msg)
		}
		x := leafToTree(f.node.elem, v)
		l, _ := m[f.name].([]any)
		for _, have := range l {
			if have == x {
				return nil
			}
		}
		m[f.name] = append(l, x)
		return nil
	case kObject:
		sub, ok := m[f.name].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[f.name] = sub
		}
		if last {
			if value != "" {
				return notLeafErr(p, fmt.Sprintf("%s is a block and takes no value; fields: %s", f.name, fieldNames(f.node)))
			}
			return nil
		}
		return e.set(f.node, sub, i+1, p, value)
	}
	// A list of objects: the next word is an index.
	l, _ := m[f.name].([]any)
	if last {
		return pathErr(p, fmt.Sprintf("needs an index: 0 to %d", len(l)))
	}
	idx, ok := parseIndex(e.words[i+1])
	if !ok {
		return pathErr(p, fmt.Sprintf("%q is not an index", e.words[i+1]))
	}
	ip := indexPath(p, idx)
	if idx > len(l) {
		return pathErr(ip, fmt.Sprintf("no such element; the next new one is %d", len(l)))
	}
	if idx == len(l) {
		l = append(l, map[string]any{})
		m[f.name] = l
	}
	elem, ok := l[idx].(map[string]any)
	if !ok {
		elem = map[string]any{}
		l[idx] = elem
	}
	if i+1 == len(e.words)-1 {
		if value != "" {
			return notLeafErr(ip, fmt.Sprintf("an element takes no value; fields: %s", fieldNames(f.node.elem)))
		}
		return nil
	}
	return e.set(f.node.elem, elem, i+2, ip, value)
}

// del walks words[i:] from object m (described by n, at path p).
func (e *editor) del(n *node, m map[string]any, i int, p string) error {
	w := e.words[i]
	f := n.byName[w]
	p = joinPath(p, w)
	x, present := m[w]
	last := i == len(e.words)-1
	if f == nil {
		return pathErr(p, "unknown field")
	}
	if !present {
		return pathErr(p, "not set")
	}
	if last {
		delete(m, w)
		return nil
	}
	next := e.words[i+1]
	switch f.node.kind {
	case kLeaf:
		return pathErr(p, fmt.Sprintf("unexpected %q: %s is a single value", next, f.name))
	case kValues:
		if i+1 != len(e.words)-1 {
			return pathErr(p, fmt.Sprintf("unexpected %q after the value to remove", e.words[i+2]))
		}
		v, msg := leafFromWord(f.node.elem, next)
		if msg != "" {
			return pathErr(p, msg)
		}
		want := leafToTree(f.node.elem, v)
		l := x.([]any)
		for j, have := range l {
			if have == want {
				l = append(l[:j:j], l[j+1:]...)
				if len(l) == 0 {
					delete(m, w)
				} else {
					m[w] = l
				}
				return nil
			}
		}
		return pathErr(p, fmt.Sprintf("%s is not in the list", next))
	case kObject:
		return e.del(f.node, x.(map[string]any), i+1, p)
	}
	l := x.([]any)
	idx, ok := parseIndex(next)
	if !ok {
		return pathErr(p, fmt.Sprintf("%q is not an index", next))
	}
	ip := indexPath(p, idx)
	if idx >= len(l) {
		return pathErr(ip, "not set")
	}
	if i+1 == len(e.words)-1 {
		if l = append(l[:idx:idx], l[idx+1:]...); len(l) == 0 {
			delete(m, w)
		} else {
			m[w] = l
		}
		return nil
	}
	return e.del(f.node.elem, l[idx].(map[string]any), i+2, ip)
}

func fieldNames(n *node) string {
	s := ""
	for i, f := range n.fields {
		if i > 0 {
			s += ", "
		}
		s += f.name
	}
	return s
}
