package config

import (
	"encoding"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"sync"
)

// The schema is built once, by reflection, from the Config type and its
// tags. Everything that walks a document (decoding, defaults, validation,
// editing, completion, docs) walks this tree rather than the Go types, so
// the rules live in one place.

type nodeKind int

const (
	kObject nodeKind = iota // a struct
	kList                   // a list of objects, addressed by index
	kValues                 // a list of scalars, addressed by value
	kLeaf                   // a scalar
)

type leafKind int

const (
	lString leafKind = iota
	lBool
	lInt
	lUint
	lText // a type with UnmarshalText: addresses, prefixes, durations, ...
)

type node struct {
	kind   nodeKind
	typ    reflect.Type // struct, slice or scalar type (never a pointer)
	fields []*field     // kObject
	byName map[string]*field
	elem   *node // kList, kValues
	leaf   leafKind
}

type field struct {
	name     string
	help     string
	def      string // default as typed on the CLI; "@x" copies sibling x
	defTree  any    // def converted to a tree value
	index    int
	optional bool // a pointer: absent means off (blocks) or unset (scalars)
	required bool
	zeroOK   bool // the zero value means "unset" and skips the other rules
	rules    []rule
	node     *node
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType    = reflect.TypeFor[Duration]()
)

// typeNames gives each text type a noun for messages ("expected an IP
// address") and a short name for placeholders and docs ("<IP address>").
var typeNames = map[reflect.Type][2]string{
	reflect.TypeFor[netip.Addr]():   {"an IP address", "IP address"},
	reflect.TypeFor[netip.Prefix](): {"an IP prefix (address/length)", "IP prefix"},
	reflect.TypeFor[MAC]():          {"a MAC address", "MAC address"},
	reflect.TypeFor[RouterID]():     {"a router-id (xx:xx:xx:xx:xx:xx:xx:xx)", "router-id"},
	reflect.TypeFor[PortRange]():    {"a port or port range (443, 6000-6010)", "port or lo-hi"},
	durationType:                    {"a duration (4s, 12h)", "duration"},
}

func (n *node) noun() string {
	switch n.leaf {
	case lString:
		return "a string"
	case lBool:
		return "a boolean (true or false)"
	case lInt, lUint:
		return "an integer"
	}
	if t, ok := typeNames[n.typ]; ok {
		return t[0]
	}
	return "a " + n.typ.Name()
}

func (n *node) short() string {
	switch n.kind {
	case kObject:
		return "object"
	case kList:
		return "list of objects"
	case kValues:
		return "list of " + n.elem.short()
	}
	switch n.leaf {
	case lString:
		return "string"
	case lBool:
		return "boolean"
	case lInt, lUint:
		return "integer"
	}
	if t, ok := typeNames[n.typ]; ok {
		return t[1]
	}
	return n.typ.Name()
}

var schemaOnce = sync.OnceValues(func() (*node, error) {
	return buildNode(reflect.TypeFor[Config]())
})

// root returns the schema; an error means a malformed tag, which a test
// catches before it ships.
func root() (*node, error) { return schemaOnce() }

func buildNode(t reflect.Type) (*node, error) {
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return &node{kind: kLeaf, typ: t, leaf: lText}, nil
	}
	switch t.Kind() {
	case reflect.String:
		return &node{kind: kLeaf, typ: t, leaf: lString}, nil
	case reflect.Bool:
		return &node{kind: kLeaf, typ: t, leaf: lBool}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &node{kind: kLeaf, typ: t, leaf: lInt}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &node{kind: kLeaf, typ: t, leaf: lUint}, nil
	case reflect.Slice:
		elem, err := buildNode(t.Elem())
		if err != nil {
			return nil, err
		}
		switch elem.kind {
		case kObject:
			return &node{kind: kList, typ: t, elem: elem}, nil
		case kLeaf:
			return &node{kind: kValues, typ: t, elem: elem}, nil
		}
		return nil, fmt.Errorf("config: schema: %v: lists of lists are not supported", t)
	case reflect.Struct:
		n := &node{kind: kObject, typ: t, byName: map[string]*field{}}
		for i := range t.NumField() {
			sf := t.Field(i)
			f, err := buildField(sf, i)
			if err != nil {
				return nil, fmt.Errorf("config: schema: %v.%s: %w", t, sf.Name, err)
			}
			n.fields = append(n.fields, f)
			n.byName[f.name] = f
		}
		return n, nil
	}
	return nil, fmt.Errorf("config: schema: unsupported type %v", t)
}

func buildField(sf reflect.StructField, i int) (*field, error) {
	name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
	if name == "" || name == "-" {
		return nil, fmt.Errorf("no json name")
	}
	f := &field{name: name, help: sf.Tag.Get("help"), def: sf.Tag.Get("default"), index: i}
	if f.help == "" {
		return nil, fmt.Errorf("no help")
	}
	t := sf.Type
	if t.Kind() == reflect.Pointer {
		f.optional = true
		t = t.Elem()
	}
	n, err := buildNode(t)
	if err != nil {
		return nil, err
	}
	f.node = n
	if err := f.parseRules(sf.Tag.Get("rule")); err != nil {
		return nil, err
	}
	if f.def != "" && !strings.HasPrefix(f.def, "@") {
		if n.kind != kLeaf {
			return nil, fmt.Errorf("default on a non-scalar")
		}
		v, msg := leafFromWord(n, f.def)
		if msg != "" {
			return nil, fmt.Errorf("default %q: %s", f.def, msg)
		}
		if msg := f.check(v); msg != "" {
			return nil, fmt.Errorf("default %q: %s", f.def, msg)
		}
		f.defTree = leafToTree(n, v)
	}
	return f, nil
}

// placeholder is what completion offers for a value: "<integer 48..64>".
func (f *field) placeholder() string {
	n := f.node
	if n.kind == kValues {
		n = n.elem
	}
	return "<" + f.valueSpec(n) + ">"
}

// valueSpec describes the values a leaf takes: "integer 48..64, or 0".
func (f *field) valueSpec(n *node) string {
	short := n.short()
	var descs []string
	for _, r := range f.rules {
		if r.short != "" {
			short = r.short
		}
		if r.desc != "" {
			descs = append(descs, r.desc)
		}
	}
	s := short
	if len(descs) > 0 {
		s += " " + strings.Join(descs, ", ")
	}
	if f.zeroOK && (n.leaf == lInt || n.leaf == lUint) {
		s += ", or 0"
	}
	return s
}

// typeDoc is the type column of the docs and of Describe.
func (f *field) typeDoc() string {
	switch f.node.kind {
	case kObject:
		if f.optional {
			return "block (presence enables)"
		}
		return "block"
	case kList:
		return "list of blocks"
	case kValues:
		return "list of " + f.valueSpec(f.node.elem)
	}
	return f.valueSpec(f.node)
}

// defaultDoc is the default column of the docs and of Describe.
func (f *field) defaultDoc() string {
	n := f.node
	switch {
	case strings.HasPrefix(f.def, "@"):
		return "the " + f.def[1:]
	case f.def != "":
		return f.def
	case f.required:
		return "required"
	case n.kind == kObject && f.optional:
		return "absent (off)"
	case n.kind == kObject:
		return "empty block"
	case n.kind == kList || n.kind == kValues:
		return "empty list"
	case f.optional:
		return "unset"
	case n.leaf == lBool:
		return "false"
	case n.leaf == lInt || n.leaf == lUint:
		return "0"
	}
	return "empty"
}

// describe is the one-line text Describe returns.
func (f *field) describe() string {
	return fmt.Sprintf("%s: %s (%s; default %s)", f.name, f.help, f.typeDoc(), f.defaultDoc())
}

// lookupPath follows path words through the schema only (indices are
// checked to be numbers, not against a document). It returns the field the
// path ends on, or nil for the empty path.
func lookupPath(words []string) (*field, string, error) {
	n, err := root()
	if err != nil {
		return nil, "", err
	}
	var f *field
	p := ""
	for i := 0; i < len(words); i++ {
		w := words[i]
		if n == nil {
			return nil, p, pathErr(p, fmt.Sprintf("%s is a single value; nothing is below it", f.name))
		}
		switch n.kind {
		case kObject:
			f = n.byName[w]
			p = joinPath(p, w)
			if f == nil {
				return nil, p, pathErr(p, "unknown field")
			}
			switch f.node.kind {
			case kLeaf, kValues:
				n = nil
			default:
				n = f.node
			}
		case kList:
			idx, ok := parseIndex(w)
			if !ok {
				return nil, p, pathErr(p, fmt.Sprintf("%q is not an index", w))
			}
			p = indexPath(p, idx)
			n = n.elem
		}
	}
	return f, p, nil
}
