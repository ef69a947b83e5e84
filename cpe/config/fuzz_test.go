package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func addSeeds(f *testing.F, add func(doc []byte)) {
	add(Default())
	add([]byte(factory))
	files, _ := filepath.Glob("../../examples/*.json")
	for _, file := range files {
		if doc, err := os.ReadFile(file); err == nil {
			add(doc)
		}
	}
	for _, tc := range badDocs {
		add([]byte(tc.doc))
	}
}

// FuzzParse: Parse never panics, its errors all have messages, and what it
// accepts has a canonical form that means the same and is stable.
func FuzzParse(f *testing.F) {
	addSeeds(f, func(doc []byte) { f.Add(doc) })
	f.Fuzz(func(t *testing.T, doc []byte) {
		orig := bytes.Clone(doc)
		cfg, err := Parse(doc)
		errs := Check(doc)
		if (err == nil) != (len(errs) == 0) {
			t.Fatalf("Parse says %v, Check says %v", err, errs)
		}
		var perrs Errors
		if err != nil && (!errors.As(err, &perrs) || !reflect.DeepEqual(perrs, errs)) {
			t.Fatalf("Parse and Check disagree:\n%v\n%v", err, errs)
		}
		for _, e := range errs {
			if e.Msg == "" {
				t.Fatalf("error without a message at %q", e.Path)
			}
		}
		c, cerr := Canonical(doc)
		if !bytes.Equal(doc, orig) {
			t.Fatal("input modified")
		}
		if err == nil && cerr != nil {
			t.Fatalf("Parse accepts what Canonical refuses: %v", cerr)
		}
		if cerr != nil {
			return
		}
		c2, err2 := Canonical(c)
		if err2 != nil || !bytes.Equal(c, c2) {
			t.Fatalf("Canonical is not stable (%v):\n%s\n%s", err2, c, c2)
		}
		if cfg == nil {
			return
		}
		cfg2, err := Parse(c)
		if err != nil {
			t.Fatalf("the canonical form does not parse: %v\n%s", err, c)
		}
		if !reflect.DeepEqual(cfg, cfg2) {
			t.Fatalf("the canonical form means something else:\n%+v\n%+v", cfg, cfg2)
		}
	})
}

// vocabulary is what FuzzSet builds paths from: every field name, a few
// indices and a word that is none of those, so random bytes make paths
// that reach deep into the schema.
func vocabulary() []string {
	seen := map[string]bool{}
	var out []string
	var walk func(n *node)
	walk = func(n *node) {
		for _, f := range n.fields {
			if !seen[f.name] {
				seen[f.name] = true
				out = append(out, f.name)
			}
			switch f.node.kind {
			case kObject:
				walk(f.node)
			case kList:
				walk(f.node.elem)
			}
		}
	}
	n, _ := root()
	walk(n)
	return append(out, "0", "1", "2", "10", "bogus", "2001:db8::53", "80")
}

// pathWords turns fuzz bytes into path words, one word per byte.
func pathWords(vocab []string, sel []byte) []string {
	words := make([]string, len(sel))
	for i, b := range sel {
		words[i] = vocab[int(b)%len(vocab)]
	}
	return words
}

func pathBytes(t testing.TB, vocab []string, path string) []byte {
	var sel []byte
	for _, w := range strings.Fields(path) {
		i := slices.Index(vocab, w)
		if i < 0 {
			t.Fatalf("%q is not in the vocabulary", w)
		}
		sel = append(sel, byte(i))
	}
	return sel
}

// FuzzSet: editing never panics, never touches its input, and a successful
// Set leaves a canonical document in which the path can be read back.
func FuzzSet(f *testing.F) {
	vocab := vocabulary()
	for _, p := range []struct{ path, value string }{
		{"wan 0 dhcp6 prefix_hint", "56"},
		{"wan 1 interface", "wan1"},
		{"lan 0 ipv6 ra managed", ""},
		{"wan 0 static dns", "2001:db8::53"},
		{"lan 0 ipv4 dhcp4 static_leases 0 mac", "02:00:00:00:00:01"},
		{"firewall pinholes 0 ports", "1000-2000"},
		{"mesh interfaces 0 hello_interval", "4s"},
		{"mesh keys 0 secret", "00"},
		{"wan 0", ""},
		{"system hostname", "lab"},
	} {
		f.Add(Default(), pathBytes(f, vocab, p.path), p.value)
	}
	f.Add([]byte(withStatic), pathBytes(f, vocab, "wan 0 static dns 2001:db8::53"), "")
	f.Add([]byte(`{`), pathBytes(f, vocab, "wan"), "x")
	f.Fuzz(func(t *testing.T, doc, sel []byte, value string) {
		words := pathWords(vocab, sel)
		orig := bytes.Clone(doc)
		Complete(doc, words)
		Describe(words)
		if out, err := Delete(doc, words); err == nil {
			if c, err := Canonical(out); err != nil || !bytes.Equal(c, out) {
				t.Fatalf("Delete's output is not canonical (%v):\n%s", err, out)
			}
		}
		out, err := Set(doc, words, value)
		if !bytes.Equal(doc, orig) {
			t.Fatal("input modified")
		}
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 || errs[0].Msg == "" {
				t.Fatalf("Set error %T %v", err, err)
			}
			return
		}
		if c, err := Canonical(out); err != nil || !bytes.Equal(c, out) {
			t.Fatalf("Set's output is not canonical (%v):\n%s", err, out)
		}
		if _, err := Get(out, words); err != nil {
			t.Fatalf("Get after Set %q %q: %v\n%s", words, value, err, out)
		}
	})
}
