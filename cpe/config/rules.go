package config

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"time"
)

// A rule checks one value on its own; Set applies it at once and Parse
// applies it to every value, so both report the same message. Rules that
// need more than one value live in validate.go.
//
// Tag syntax: rule:"required,range=48..64". Special words:
//
//	required  the zero value is an error ("required")
//	zero      the zero value means unset and skips the other rules
type rule struct {
	short string // replaces the type name in placeholders ("interface name")
	desc  string // bounds for placeholders and docs ("48..64")
	check func(v reflect.Value) string
}

func (f *field) parseRules(tag string) error {
	if tag == "" {
		return nil
	}
	n := f.node
	if n.kind == kValues {
		n = n.elem
	}
	for _, word := range strings.Split(tag, ",") {
		name, arg, _ := strings.Cut(word, "=")
		switch name {
		case "required":
			f.required = true
			continue
		case "zero":
			f.zeroOK = true
			continue
		}
		mk, ok := ruleMakers[name]
		if !ok {
			return fmt.Errorf("unknown rule %q", name)
		}
		r, err := mk(n, arg)
		if err != nil {
			return fmt.Errorf("rule %q: %w", word, err)
		}
		f.rules = append(f.rules, r)
	}
	return nil
}

// check returns the message for the first rule v breaks, or "".
// v is the scalar itself (never a pointer).
func (f *field) check(v reflect.Value) string {
	if v.IsZero() {
		if f.required {
			return "required"
		}
		if f.zeroOK {
			return ""
		}
	}
	for _, r := range f.rules {
		if msg := r.check(v); msg != "" {
			return msg
		}
	}
	return ""
}

// checkElem is check for one element of a list of values, where an empty
// element is never meaningful.
func (f *field) checkElem(v reflect.Value) string {
	if v.IsZero() && f.node.elem.leaf == lText {
		return "must not be empty"
	}
	for _, r := range f.rules {
		if msg := r.check(v); msg != "" {
			return msg
		}
	}
	return ""
}

var ruleMakers map[string]func(n *node, arg string) (rule, error)

func init() {
	// Assigned in init because ruleRange refers back to leafFromWord, whose
	// package-level initialisation would otherwise form a cycle.
	ruleMakers = map[string]func(n *node, arg string) (rule, error){
		"enum":         ruleEnum,
		"range":        ruleRange,
		"min":          ruleMin,
		"len":          ruleLen,
		"hostname":     stringRule("host name", checkHostname),
		"name":         stringRule("name", checkName),
		"ifname":       stringRule("interface name", checkIfname),
		"hexkey":       ruleHexKey,
		"channel":      ruleChannel,
		"centiseconds": ruleCentiseconds,
		"host":         prefixRule("with a host address", checkHostPrefix),
		"network":      prefixRule("without host bits", checkNetwork),
		"ipv4":         familyRule(true),
		"ipv6":         familyRule(false),
		"unicast":      ruleUnicast,
	}
}

func ruleEnum(n *node, arg string) (rule, error) {
	if n.leaf != lString {
		return rule{}, fmt.Errorf("enum on a non-string")
	}
	vals := strings.Split(arg, "|")
	msg := "must be one of " + strings.Join(vals, ", ")
	return rule{short: "one of " + strings.Join(vals, ", "), check: func(v reflect.Value) string {
		for _, e := range vals {
			if v.String() == e {
				return ""
			}
		}
		return msg
	}}, nil
}

// enumValues returns the values of an enum field, nil for other fields.
func (f *field) enumValues() []string {
	for _, r := range f.rules {
		if after, ok := strings.CutPrefix(r.short, "one of "); ok {
			return strings.Split(after, ", ")
		}
	}
	return nil
}

// number returns an integer or duration as int64 for comparisons.
func number(v reflect.Value) (int64, bool) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u := v.Uint()
		if u > 1<<62 {
			return 1 << 62, true
		}
		return int64(u), true
	}
	return 0, false
}

func bound(n *node, s string) (int64, string, error) {
	v, msg := leafFromWord(n, s)
	if msg != "" {
		return 0, "", fmt.Errorf("bound %q: %s", s, msg)
	}
	x, ok := number(v)
	if !ok {
		return 0, "", fmt.Errorf("bounds on a non-number")
	}
	if n.typ == durationType {
		return x, Duration(x).String(), nil
	}
	return x, s, nil
}

func ruleRange(n *node, arg string) (rule, error) {
	a, b, ok := strings.Cut(arg, "..")
	if !ok {
		return rule{}, fmt.Errorf("want lo..hi")
	}
	lo, los, err := bound(n, a)
	if err != nil {
		return rule{}, err
	}
	hi, his, err := bound(n, b)
	if err != nil {
		return rule{}, err
	}
	msg := fmt.Sprintf("must be between %s and %s", los, his)
	return rule{desc: los + ".." + his, check: func(v reflect.Value) string {
		if x, _ := number(v); x < lo || x > hi {
			return msg
		}
		return ""
	}}, nil
}

func ruleMin(n *node, arg string) (rule, error) {
	lo, los, err := bound(n, arg)
	if err != nil {
		return rule{}, err
	}
	msg := "must be at least " + los
	return rule{desc: "at least " + los, check: func(v reflect.Value) string {
		if x, _ := number(v); x < lo {
			return msg
		}
		return ""
	}}, nil
}

func ruleLen(n *node, arg string) (rule, error) {
	if n.leaf != lString {
		return rule{}, fmt.Errorf("len on a non-string")
	}
	var lo, hi int
	if _, err := fmt.Sscanf(arg, "%d..%d", &lo, &hi); err != nil {
		return rule{}, fmt.Errorf("want lo..hi: %w", err)
	}
	msg := fmt.Sprintf("must be %d to %d bytes long", lo, hi)
	desc := fmt.Sprintf("%d..%d bytes", lo, hi)
	if lo == 0 {
		msg = fmt.Sprintf("must be at most %d bytes long", hi)
		desc = fmt.Sprintf("up to %d bytes", hi)
	}
	return rule{desc: desc, check: func(v reflect.Value) string {
		if l := len(v.String()); l < lo || l > hi {
			return msg
		}
		return ""
	}}, nil
}

func stringRule(short string, fn func(string) string) func(*node, string) (rule, error) {
	return func(n *node, _ string) (rule, error) {
		if n.leaf != lString {
			return rule{}, fmt.Errorf("on a non-string")
		}
		return rule{short: short, check: func(v reflect.Value) string { return fn(v.String()) }}, nil
	}
}

func ruleHexKey(n *node, arg string) (rule, error) {
	if n.leaf != lString {
		return rule{}, fmt.Errorf("on a non-string")
	}
	var lo, hi int
	if _, err := fmt.Sscanf(arg, "%d..%d", &lo, &hi); err != nil {
		return rule{}, fmt.Errorf("want lo..hi: %w", err)
	}
	msg := fmt.Sprintf("must be %d to %d bytes written as %d to %d hex digits", lo, hi, 2*lo, 2*hi)
	return rule{short: "hex key", desc: fmt.Sprintf("%d..%d bytes", lo, hi), check: func(v reflect.Value) string {
		l, err := hexKeyLen(v.String())
		if err != nil || l < lo || l > hi {
			return msg
		}
		return ""
	}}, nil
}

func ruleChannel(n *node, _ string) (rule, error) {
	if n.leaf != lInt {
		return rule{}, fmt.Errorf("on a non-integer")
	}
	return rule{desc: "1..14 or 36..177", check: func(v reflect.Value) string {
		if c := v.Int(); (c >= 1 && c <= 14) || (c >= 36 && c <= 177) {
			return ""
		}
		return "must be a channel in 1..14 (2.4 GHz) or 36..177 (5 GHz)"
	}}, nil
}

func ruleCentiseconds(n *node, _ string) (rule, error) {
	if n.typ != durationType {
		return rule{}, fmt.Errorf("on a non-duration")
	}
	// RFC 8966 carries intervals as 16-bit counts of centiseconds.
	return rule{desc: "in steps of 10ms", check: func(v reflect.Value) string {
		if time.Duration(v.Int())%(10*time.Millisecond) != 0 {
			return "must be a multiple of 10ms"
		}
		return ""
	}}, nil
}

func prefixRule(desc string, fn func(netip.Prefix) string) func(*node, string) (rule, error) {
	return func(n *node, _ string) (rule, error) {
		if n.typ != reflect.TypeFor[netip.Prefix]() {
			return rule{}, fmt.Errorf("on a non-prefix")
		}
		return rule{desc: desc, check: func(v reflect.Value) string {
			p := v.Interface().(netip.Prefix)
			if !p.IsValid() {
				return ""
			}
			return fn(p)
		}}, nil
	}
}

func familyRule(v4 bool) func(*node, string) (rule, error) {
	fam, other := "IPv6", "IPv4"
	if v4 {
		fam, other = other, fam
	}
	return func(n *node, _ string) (rule, error) {
		switch n.typ {
		case reflect.TypeFor[netip.Addr]():
			return rule{short: fam + " address", check: func(v reflect.Value) string {
				a := v.Interface().(netip.Addr)
				if a.IsValid() && a.Is4() != v4 {
					return "must be an " + fam + " address, not " + other
				}
				return ""
			}}, nil
		case reflect.TypeFor[netip.Prefix]():
			return rule{short: fam + " prefix", check: func(v reflect.Value) string {
				p := v.Interface().(netip.Prefix)
				if p.IsValid() && p.Addr().Is4() != v4 {
					return "must be an " + fam + " prefix, not " + other
				}
				return ""
			}}, nil
		}
		return rule{}, fmt.Errorf("on a non-address")
	}
}

func ruleUnicast(n *node, _ string) (rule, error) {
	if n.typ != reflect.TypeFor[netip.Addr]() {
		return rule{}, fmt.Errorf("on a non-address")
	}
	return rule{desc: "(unicast)", check: func(v reflect.Value) string {
		a := v.Interface().(netip.Addr)
		if a.IsValid() && (a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})) {
			return "must be a unicast address"
		}
		return ""
	}}, nil
}

// checkIfname follows the kernel's dev_valid_name: IFNAMSIZ is 16 with the
// terminating NUL, and '/', ':' and whitespace would break sysfs and the
// old alias syntax.
func checkIfname(s string) string {
	switch {
	case s == "":
		return "required"
	case len(s) > 15:
		return "must be at most 15 bytes long"
	case s == "." || s == "..":
		return `must not be "." or ".."`
	}
	for _, c := range s {
		if c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0 {
			return "must not contain '/', ':', whitespace or NUL"
		}
	}
	return ""
}

// checkHostname follows RFC 1123 section 2.1: dot-separated labels of
// letters, digits and hyphens, 1 to 63 bytes each, not starting or ending
// with a hyphen; 253 bytes in all.
func checkHostname(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if len(s) > 253 {
		return "must be at most 253 bytes long"
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return "labels must be 1 to 63 bytes long"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "labels must not start or end with '-'"
		}
		for _, c := range label {
			if !isAlnum(c) && c != '-' {
				return "must contain only letters, digits, '-' and '.'"
			}
		}
	}
	return ""
}

// checkName is for names of list elements that show up in CLI output and
// logs. It accepts every interface name (names default to the interface)
// but nothing a CLI word or a log line would need to quote.
func checkName(s string) string {
	if s == "" || len(s) > 32 {
		return "must be 1 to 32 bytes long"
	}
	if s == "." || s == ".." {
		return `must not be "." or ".."`
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f || c == '/' || c == ':' || c == '"' || c == '\'' || c == '\\' {
			return "must not contain whitespace, control characters, '/', ':', quotes or '\\'"
		}
	}
	return ""
}

func isAlnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// checkHostPrefix wants an address that can sit on an interface: in IPv4
// subnets up to /30 not the network or broadcast address, in IPv6 subnets up
// to /126 not the Subnet-Router anycast address (RFC 4291 section 2.6.1);
// /31 and /127 (RFC 3021, RFC 6164) have no such addresses.
func checkHostPrefix(p netip.Prefix) string {
	a := p.Addr()
	if a.IsMulticast() || a.IsUnspecified() {
		return "must be a unicast address"
	}
	if a.Is4() && p.Bits() <= 30 {
		if a == p.Masked().Addr() {
			return "must be a host address, not the network address"
		}
		if a == lastAddr(p) {
			return "must be a host address, not the broadcast address"
		}
	}
	if a.Is6() && p.Bits() <= 126 && a == p.Masked().Addr() {
		return "must be a host address, not the subnet-router anycast address"
	}
	return ""
}

func checkNetwork(p netip.Prefix) string {
	if m := p.Masked(); m != p {
		return fmt.Sprintf("has host bits set; the network is %s", m)
	}
	return ""
}

// lastAddr is the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
