package config

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files and the generated part of docs/config.md")

const (
	docsPath  = "../../docs/config.md"
	docsBegin = "<!-- BEGIN GENERATED FIELD REFERENCE (go test ./cpe/config -update) -->\n"
	docsEnd   = "<!-- END GENERATED FIELD REFERENCE -->\n"
)

// reference renders the schema as one table per block: every field with
// its type and bounds, default and meaning.
func reference(t *testing.T) string {
	n, err := root()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var section func(n *node, p, title string)
	section = func(n *node, p, title string) {
		b.WriteString("### `" + title + "`\n\n")
		b.WriteString("| field | type | default | meaning |\n| --- | --- | --- | --- |\n")
		for _, f := range n.fields {
			fp := p + f.name
			b.WriteString("| `" + fp + "` | " + mdEscape(f.typeDoc()) + " | " + mdEscape(f.defaultDoc()) + " | " + mdEscape(f.help) + " |\n")
		}
		b.WriteString("\n")
		for _, f := range n.fields {
			switch f.node.kind {
			case kObject:
				section(f.node, p+f.name+".", p+f.name)
			case kList:
				section(f.node.elem, p+f.name+"[].", p+f.name+"[]")
			}
		}
	}
	for _, f := range n.fields {
		switch f.node.kind {
		case kObject:
			section(f.node, f.name+".", f.name)
		case kList:
			section(f.node.elem, f.name+"[].", f.name+"[]")
		}
	}
	return b.String()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// TestDocsReference keeps docs/config.md honest: its field reference is
// generated from the schema, so a field added without docs fails here.
func TestDocsReference(t *testing.T) {
	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := bytes.Cut(doc, []byte(docsBegin))
	_, after, ok2 := bytes.Cut(rest, []byte(docsEnd))
	if !ok1 || !ok2 {
		t.Fatalf("%s: markers for the generated reference are missing", docsPath)
	}
	want := reference(t)
	if *update {
		out := string(before) + docsBegin + "\n" + want + docsEnd + string(after)
		if err := os.WriteFile(docsPath, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, _, _ := bytes.Cut(rest, []byte(docsEnd))
	if string(got) != "\n"+want {
		t.Errorf("%s: the field reference is out of date; run go test ./cpe/config -update and review the diff", docsPath)
	}
	// The help example in the prose is what Describe really says.
	help, err := Describe([]string{"wan", "0", "dhcp6", "prefix_hint"})
	if err != nil || !bytes.Contains(doc, []byte("`"+help+"`")) {
		t.Errorf("%s: the Describe example is not %q (%v)", docsPath, help, err)
	}
}
