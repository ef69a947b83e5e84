package config

import (
	"bytes"
	"encoding/json"
	"strings"
)

// encodeTree writes a normalized tree as indented JSON with the fields of
// each object in schema order, so equal documents give equal bytes.
func encodeTree(n *node, v any) []byte {
	var b bytes.Buffer
	writeTree(&b, n, v, 0)
	b.WriteByte('\n')
	return b.Bytes()
}

func writeTree(b *bytes.Buffer, n *node, v any, depth int) {
	indent := func(d int) { b.WriteString(strings.Repeat("  ", d)) }
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		first := true
		for _, f := range n.fields {
			x, ok := v[f.name]
			if !ok {
				continue
			}
			if !first {
				b.WriteString(",\n")
			}
			first = false
			indent(depth + 1)
			writeString(b, f.name)
			b.WriteString(": ")
			writeTree(b, f.node, x, depth+1)
		}
		b.WriteByte('\n')
		indent(depth)
		b.WriteByte('}')
	case []any:
		if len(v) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, x := range v {
			if i > 0 {
				b.WriteString(",\n")
			}
			indent(depth + 1)
			writeTree(b, n.elem, x, depth+1)
		}
		b.WriteByte('\n')
		indent(depth)
		b.WriteByte(']')
	case string:
		writeString(b, v)
	case json.Number:
		b.WriteString(string(v))
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	default:
		b.WriteString("null")
	}
}

// writeString quotes s without HTML escaping: the document is read by
// people and by this package, never embedded in a page. Invalid UTF-8
// becomes U+FFFD here, as the decoder would make it, so the output reads
// back to the same bytes.
func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(strings.ToValidUTF8(s, "\uFFFD")) // a string always encodes
	b.Truncate(b.Len() - 1)
}
