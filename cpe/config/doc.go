// Package config owns the box's configuration document: its typed schema,
// strict decoding, defaults and validation with JSON-path errors, and editing
// by the path words the CLI types ("set wan 0 dhcp6 prefix_hint 56").
//
// The schema is the Go structs in types.go; their struct tags carry the JSON
// names, one-line help, defaults and per-field rules, so decoding, validation,
// CLI completion, help and docs/config.md all come from one place.
//
// A document goes through these stages:
//
//	bytes ──► tree (syntax, duplicate keys) ──► normalized tree (unknown
//	fields, types) ──► defaults ──► Config ──► validation (rules, cross-field)
//
// Canonical and the editing functions stop after normalization, so they work
// on candidates that do not validate yet; Parse and Check go all the way.
package config
