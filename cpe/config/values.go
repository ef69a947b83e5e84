package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// ruleError is returned by UnmarshalText when the text has the right form but
// the value is not allowed; the decoder reports its text as the message
// instead of "expected X, got Y".
type ruleError string

func (e ruleError) Error() string { return string(e) }

// Duration is a time.Duration written as a Go duration string ("12h", "4s").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return formatDuration(time.Duration(d)) }

// MarshalText writes the shortest form ("12h" rather than "12h0m0s") so a
// canonical document reads the way people type it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	if v < 0 {
		return ruleError("must not be negative")
	}
	*d = Duration(v)
	return nil
}

func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	if d < time.Second {
		return b.String() + d.String()
	}
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}} {
		if d >= u.unit {
			b.WriteString(strconv.FormatInt(int64(d/u.unit), 10))
			b.WriteString(u.name)
			d %= u.unit
		}
	}
	if d > 0 {
		// Seconds with any fraction, exact and trimmed: 1.5s, 4s.
		b.WriteString(strconv.FormatInt(int64(d/time.Second), 10))
		if frac := int64(d % time.Second); frac != 0 {
			b.WriteString(strings.TrimRight(fmt.Sprintf(".%09d", frac), "0"))
		}
		b.WriteString("s")
	}
	return b.String()
}

// MAC is an Ethernet (EUI-48) address written as "02:00:00:00:00:01".
type MAC net.HardwareAddr

func (m MAC) String() string { return net.HardwareAddr(m).String() }

func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

func (m *MAC) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*m = nil
		return nil
	}
	hw, err := net.ParseMAC(string(b))
	if err != nil {
		return err
	}
	if len(hw) != 6 {
		return fmt.Errorf("not a 6-byte MAC address")
	}
	*m = MAC(hw)
	return nil
}

// RouterID is a Babel router-id (RFC 8966 section 3.1), an EUI-64 written
// as eight colon-separated hex bytes. The zero value means "derive one".
type RouterID [8]byte

// IsZero reports whether the router-id is unset.
func (r RouterID) IsZero() bool { return r == RouterID{} }

func (r RouterID) String() string {
	if r.IsZero() {
		return ""
	}
	return net.HardwareAddr(r[:]).String()
}

func (r RouterID) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

func (r *RouterID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*r = RouterID{}
		return nil
	}
	hw, err := net.ParseMAC(string(b))
	if err != nil {
		return err
	}
	if len(hw) != 8 {
		return fmt.Errorf("not 8 bytes")
	}
	var id RouterID
	copy(id[:], hw)
	// RFC 8966 section 4.1.3: these two router-ids are reserved.
	if id.IsZero() || id == (RouterID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
		return ruleError("all-zeros and all-ones router-ids are reserved")
	}
	*r = id
	return nil
}

// PortRange is a port ("443") or an inclusive range ("6000-6010").
type PortRange struct{ Lo, Hi uint16 }

func (p PortRange) String() string {
	if p == (PortRange{}) {
		return ""
	}
	if p.Lo == p.Hi {
		return strconv.Itoa(int(p.Lo))
	}
	return strconv.Itoa(int(p.Lo)) + "-" + strconv.Itoa(int(p.Hi))
}

func (p PortRange) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

func (p *PortRange) UnmarshalText(b []byte) error {
	s := string(b)
	if s == "" {
		*p = PortRange{}
		return nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	l, err := parsePort(lo)
	if err != nil {
		return err
	}
	h := l
	if isRange {
		if h, err = parsePort(hi); err != nil {
			return err
		}
	}
	if l == 0 || h == 0 {
		return ruleError("ports must be between 1 and 65535")
	}
	if l > h {
		return ruleError("range start must not be above its end")
	}
	*p = PortRange{uint16(l), uint16(h)}
	return nil
}

func parsePort(s string) (int, error) {
	if s == "" || len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("not a port")
	}
	n, _ := strconv.Atoi(s)
	if n > 65535 {
		return 0, ruleError("ports must be between 1 and 65535")
	}
	return n, nil
}

// hexKeyLen returns the number of bytes s encodes as hex digits, or an error.
func hexKeyLen(s string) (int, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return 0, err
	}
	return len(b), nil
}
