package config

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// Scalars come in two ways: as JSON values from a document and as words
// from the CLI. Both end as a reflect.Value of the field's Go type, and both
// go back into a tree the same way, which is what makes Canonical stable.

// leafFromTree converts a JSON value. The message, when not "", is final.
func leafFromTree(n *node, v any) (reflect.Value, string) {
	typeErr := func() (reflect.Value, string) {
		return reflect.Value{}, fmt.Sprintf("expected %s, got %s", n.noun(), describeTree(v))
	}
	switch n.leaf {
	case lString:
		s, ok := v.(string)
		if !ok {
			return typeErr()
		}
		return reflect.ValueOf(s).Convert(n.typ), ""
	case lBool:
		b, ok := v.(bool)
		if !ok {
			return typeErr()
		}
		return reflect.ValueOf(b).Convert(n.typ), ""
	case lInt, lUint:
		num, ok := v.(json.Number)
		if !ok {
			return typeErr()
		}
		r, msg, bad := parseInteger(n, string(num))
		if bad {
			return typeErr()
		}
		return r, msg
	case lText:
		s, ok := v.(string)
		if !ok {
			return typeErr()
		}
		r, msg, bad := parseText(n, s)
		if bad {
			return typeErr()
		}
		return r, msg
	}
	return typeErr()
}

// leafFromWord converts a CLI word. The message, when not "", is final.
func leafFromWord(n *node, s string) (reflect.Value, string) {
	typeErr := func() (reflect.Value, string) {
		return reflect.Value{}, fmt.Sprintf("%q is not %s", s, n.noun())
	}
	if !utf8.ValidString(s) {
		return reflect.Value{}, fmt.Sprintf("%q is not valid UTF-8", s)
	}
	switch n.leaf {
	case lString:
		return reflect.ValueOf(s).Convert(n.typ), ""
	case lBool:
		var b bool
		switch s {
		case "true", "on", "yes":
			b = true
		case "false", "off", "no":
		default:
			return typeErr()
		}
		return reflect.ValueOf(b).Convert(n.typ), ""
	case lInt, lUint:
		r, msg, bad := parseInteger(n, s)
		if bad {
			return typeErr()
		}
		return r, msg
	case lText:
		r, msg, bad := parseText(n, s)
		if bad {
			return typeErr()
		}
		return r, msg
	}
	return typeErr()
}

// parseInteger parses s for an integer type. bad means s is not an integer
// at all; msg means it is one, but not one the type can hold.
func parseInteger(n *node, s string) (v reflect.Value, msg string, bad bool) {
	bits := n.typ.Bits()
	v = reflect.New(n.typ).Elem()
	if n.leaf == lInt {
		x, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				lo, hi := int64(-1)<<(bits-1), int64(math.MaxInt64>>(64-bits))
				return reflect.Value{}, fmt.Sprintf("must be between %d and %d", lo, hi), false
			}
			return reflect.Value{}, "", true
		}
		v.SetInt(x)
		return v, "", false
	}
	x, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		_, ierr := strconv.ParseInt(s, 10, 64)
		if errors.Is(err, strconv.ErrRange) || ierr == nil || errors.Is(ierr, strconv.ErrRange) {
			return reflect.Value{}, fmt.Sprintf("must be between 0 and %d", uint64(math.MaxUint64)>>(64-bits)), false
		}
		return reflect.Value{}, "", true
	}
	v.SetUint(x)
	return v, "", false
}

// parseText runs the type's UnmarshalText; a ruleError is a final message,
// any other error means s is not of the type at all.
func parseText(n *node, s string) (v reflect.Value, msg string, bad bool) {
	p := reflect.New(n.typ)
	err := p.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
	var re ruleError
	switch {
	case errors.As(err, &re):
		return reflect.Value{}, re.Error(), false
	case err != nil:
		return reflect.Value{}, "", true
	}
	return p.Elem(), "", false
}

// leafToTree is the canonical JSON form of a scalar.
func leafToTree(n *node, v reflect.Value) any {
	switch n.leaf {
	case lString:
		return v.String()
	case lBool:
		return v.Bool()
	case lInt:
		return json.Number(strconv.FormatInt(v.Int(), 10))
	case lUint:
		return json.Number(strconv.FormatUint(v.Uint(), 10))
	}
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		if b, err := m.MarshalText(); err == nil {
			return string(b)
		}
	}
	return ""
}

func reflectZero(n *node) reflect.Value { return reflect.New(n.typ).Elem() }
