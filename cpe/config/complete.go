package config

import (
	"encoding/json"
	"strconv"
)

// Completion is one candidate for the next CLI word.
type Completion struct{ Word, Help string }

// Complete returns the candidates for the word after path: field names with
// their help; for a list, its indices and the next free one; for a value, a
// placeholder such as "<integer 48..64>" or the allowed words. It never
// fails: a path it cannot follow has no candidates. The document only
// supplies list indices and values, so a broken one still completes.
func Complete(doc []byte, path []string) []Completion {
	n, err := root()
	if err != nil {
		return nil
	}
	var cur any
	if t, _ := parseTree(doc); t != nil {
		cur = t
	}
	var f *field
	for _, w := range path {
		if n == nil {
			return nil // past a value
		}
		switch n.kind {
		case kObject:
			if f = n.byName[w]; f == nil {
				return nil
			}
			m, _ := cur.(map[string]any)
			cur = m[w]
			if f.node.kind == kLeaf || f.node.kind == kValues {
				n = nil
			} else {
				n = f.node
			}
		case kList:
			idx, ok := parseIndex(w)
			if !ok {
				return nil
			}
			l, _ := cur.([]any)
			if idx > len(l) {
				return nil
			}
			cur = nil
			if idx < len(l) {
				cur = l[idx]
			}
			n = n.elem
		}
	}
	if n == nil {
		return completeValue(f, cur)
	}
	var out []Completion
	switch n.kind {
	case kObject:
		for _, f := range n.fields {
			out = append(out, Completion{Word: f.name, Help: f.help})
		}
	case kList:
		l, _ := cur.([]any)
		for i, e := range l {
			out = append(out, Completion{Word: strconv.Itoa(i), Help: elemLabel(e)})
		}
		out = append(out, Completion{Word: strconv.Itoa(len(l)), Help: "a new element"})
	}
	return out
}

func completeValue(f *field, cur any) []Completion {
	var out []Completion
	if f.node.kind == kValues {
		l, _ := cur.([]any)
		for _, v := range l {
			if s := scalarWord(v); s != "" {
				out = append(out, Completion{Word: s, Help: "in the list"})
			}
		}
		return append(out, Completion{Word: f.placeholder(), Help: f.help})
	}
	words := f.enumValues()
	if f.node.leaf == lBool {
		words = []string{"true", "false"}
	}
	if words == nil {
		return []Completion{{Word: f.placeholder(), Help: f.help}}
	}
	def := f.def
	if def == "" && f.node.leaf == lBool {
		def = "false"
	}
	for _, w := range words {
		c := Completion{Word: w}
		if w == def {
			c.Help = "default"
		}
		out = append(out, c)
	}
	return out
}

// elemLabel says which element an index is, for completion help.
func elemLabel(e any) string {
	m, _ := e.(map[string]any)
	for _, k := range []string{"name", "interface", "id", "mac", "prefix", "address"} {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func scalarWord(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return string(v)
	}
	return ""
}
