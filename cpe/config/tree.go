package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A tree is a JSON document decoded without a schema: map[string]any,
// []any, string, json.Number, bool and nil. Decoding goes through a tree
// rather than straight into the structs so that every unknown field, wrong
// type and duplicate key can be reported with its path, not just the first.

// maxDepth bounds nesting; the schema is a handful of levels deep, so
// anything deeper is an error anyway and must not cost stack.
const maxDepth = 64

// parseTree decodes doc. Syntax errors end decoding and come back alone;
// duplicate keys are collected and decoding goes on.
func parseTree(doc []byte) (any, Errors) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, pathErr("", "empty document")
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	t := &treeReader{dec: dec, doc: doc}
	v, err := t.value("", 0)
	if err != nil {
		return nil, Errors{*err}
	}
	off := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		for off < int64(len(doc)) && strings.ContainsRune(" \t\r\n", rune(doc[off])) {
			off++
		}
		return nil, pathErr("", fmt.Sprintf("%s: unexpected data after the document", t.position(off)))
	}
	return v, t.errs
}

type treeReader struct {
	dec  *json.Decoder
	doc  []byte
	errs Errors
}

func (t *treeReader) value(p string, depth int) (any, *Error) {
	if depth > maxDepth {
		return nil, &Error{Path: p, Msg: "nested too deeply"}
	}
	tok, err := t.dec.Token()
	if err != nil {
		return nil, t.syntax(err)
	}
	switch tok := tok.(type) {
	case json.Delim:
		switch tok {
		case '{':
			m := map[string]any{}
			for t.dec.More() {
				kt, err := t.dec.Token()
				if err != nil {
					return nil, t.syntax(err)
				}
				k, ok := kt.(string)
				if !ok {
					return nil, &Error{Msg: t.position(t.dec.InputOffset()) + ": object key is not a string"}
				}
				kp := joinPath(p, k)
				v, e := t.value(kp, depth+1)
				if e != nil {
					return nil, e
				}
				if _, dup := m[k]; dup {
					t.errs = append(t.errs, Error{Path: kp, Msg: "duplicate key"})
				}
				m[k] = v
			}
			if _, err := t.dec.Token(); err != nil {
				return nil, t.syntax(err)
			}
			return m, nil
		case '[':
			l := []any{}
			for t.dec.More() {
				v, e := t.value(indexPath(p, len(l)), depth+1)
				if e != nil {
					return nil, e
				}
				l = append(l, v)
			}
			if _, err := t.dec.Token(); err != nil {
				return nil, t.syntax(err)
			}
			return l, nil
		}
		return nil, &Error{Msg: t.position(t.dec.InputOffset()) + ": unexpected " + tok.String()}
	}
	return tok, nil
}

func (t *treeReader) syntax(err error) *Error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &Error{Msg: fmt.Sprintf("%s: invalid JSON: %s", t.position(se.Offset), se.Error())}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Msg: "invalid JSON: unexpected end of document"}
	}
	return &Error{Msg: "invalid JSON: " + err.Error()}
}

// position renders a byte offset as line:column, both from 1.
func (t *treeReader) position(off int64) string {
	if off > int64(len(t.doc)) {
		off = int64(len(t.doc))
	}
	line, col := 1, 1
	for _, c := range t.doc[:max(off, 0)] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return "line " + strconv.Itoa(line) + " column " + strconv.Itoa(col)
}

// describeTree renders a tree value for "got ..." in messages.
func describeTree(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return strconv.Quote(v)
	case json.Number:
		s := string(v)
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return s
	case bool:
		return strconv.FormatBool(v)
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%v", v)
}
