package config

import "strings"

// applyDefaults fills absent keys of a normalized tree from the default
// tags. It works on the tree, not the structs, because only the tree knows
// whether a key was absent: "ia_na": false must stay false while a missing
// ia_na becomes true. Blocks that are pointers stay absent; plain
// sub-objects are created so their own defaults apply.
func applyDefaults(n *node, m map[string]any) {
	for _, f := range n.fields {
		x, present := m[f.name]
		// An empty derived value ("name": "") means "derive it" too.
		if !present || strings.HasPrefix(f.def, "@") && x == "" {
			switch {
			case strings.HasPrefix(f.def, "@"):
				// Copied only when valid here too, so a bad interface is
				// reported once, not again as a bad name.
				if x, ok := m[f.def[1:]]; ok {
					if v, msg := leafFromTree(f.node, x); msg == "" && f.check(v) == "" {
						m[f.name] = x
					}
				}
			case f.defTree != nil:
				m[f.name] = f.defTree
			case f.node.kind == kObject && !f.optional:
				m[f.name] = map[string]any{}
			}
		}
		switch x := m[f.name].(type) {
		case map[string]any:
			applyDefaults(f.node, x)
		case []any:
			if f.node.kind == kList {
				for _, e := range x {
					if em, ok := e.(map[string]any); ok {
						applyDefaults(f.node.elem, em)
					}
				}
			}
		}
	}
}
