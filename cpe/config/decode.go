package config

import (
	"encoding/json"
	"slices"
)

// Parse decodes doc strictly, applies defaults and validates it. Any
// problem comes back as Errors listing every one with its JSON path.
func Parse(doc []byte) (*Config, error) {
	cfg, errs := parse(doc)
	if len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// Check is Parse for callers that only want the problems; nil means valid.
func Check(doc []byte) Errors {
	_, errs := parse(doc)
	return errs
}

// Canonical re-writes doc the way it was written, without defaults, in
// schema field order, indented two spaces, with a trailing newline. It
// fails on what would stop the document from decoding (syntax, unknown
// fields, wrong types) but not on validation rules, so a candidate being
// edited can be stored before it is complete.
func Canonical(doc []byte) ([]byte, error) {
	tree, errs := normalizeDoc(doc)
	if len(errs) > 0 {
		return nil, errs
	}
	n, err := root()
	if err != nil {
		return nil, err
	}
	return encodeTree(n, tree), nil
}

func parse(doc []byte) (*Config, Errors) {
	n, err := root()
	if err != nil {
		return nil, Errors{{Msg: err.Error()}}
	}
	tree, errs := normalizeDoc(doc)
	if tree == nil {
		return nil, errs
	}
	applyDefaults(n, tree)
	var cfg Config
	if err := json.Unmarshal(encodeTree(n, tree), &cfg); err != nil {
		// The tree holds only values that came out of the types' own
		// marshallers; failing here is a bug in this package.
		return nil, append(errs, Error{Msg: "internal: " + err.Error()})
	}
	errs = append(errs, validate(n, &cfg, errs)...)
	sortErrors(errs)
	return &cfg, errs
}

// normalizeDoc parses doc into a tree that holds only known fields with
// values of the right types, in their canonical form. The tree is nil when
// the document is not an object at all.
func normalizeDoc(doc []byte) (map[string]any, Errors) {
	n, err := root()
	if err != nil {
		return nil, Errors{{Msg: err.Error()}}
	}
	t, errs := parseTree(doc)
	if t == nil && len(errs) > 0 {
		return nil, errs
	}
	if _, ok := t.(map[string]any); !ok {
		return nil, pathErr("", "expected an object, got "+describeTree(t))
	}
	d := &normalizer{errs: errs}
	out, _ := d.value(n, t, "")
	sortErrors(d.errs)
	return out.(map[string]any), d.errs
}

type normalizer struct{ errs Errors }

func (d *normalizer) fail(p, msg string) { d.errs = append(d.errs, Error{Path: p, Msg: msg}) }

// value returns the normalized v and whether it was usable. Unusable list
// elements are replaced by an empty value of their type so that the indices
// of later elements, and thus the paths of their errors, stay right.
func (d *normalizer) value(n *node, v any, p string) (any, bool) {
	switch n.kind {
	case kObject:
		m, ok := v.(map[string]any)
		if !ok {
			d.fail(p, "expected an object, got "+describeTree(v))
			return map[string]any{}, false
		}
		out := make(map[string]any, len(m))
		for _, f := range n.fields {
			x, present := m[f.name]
			// null is how JSON spells "absent".
			if !present || x == nil {
				continue
			}
			if nv, ok := d.value(f.node, x, joinPath(p, f.name)); ok {
				out[f.name] = nv
			}
		}
		var unknown []string
		for k := range m {
			if n.byName[k] == nil {
				unknown = append(unknown, k)
			}
		}
		slices.Sort(unknown)
		for _, k := range unknown {
			d.fail(joinPath(p, k), "unknown field")
		}
		return out, true
	case kList, kValues:
		l, ok := v.([]any)
		if !ok {
			d.fail(p, "expected a list, got "+describeTree(v))
			return nil, false
		}
		out := make([]any, len(l))
		for i, x := range l {
			nv, ok := d.value(n.elem, x, indexPath(p, i))
			if !ok {
				nv = emptyValue(n.elem)
			}
			out[i] = nv
		}
		return out, true
	}
	r, msg := leafFromTree(n, v)
	if msg != "" {
		d.fail(p, msg)
		return nil, false
	}
	return leafToTree(n, r), true
}

func emptyValue(n *node) any {
	if n.kind == kObject {
		return map[string]any{}
	}
	return leafToTree(n, reflectZero(n))
}
