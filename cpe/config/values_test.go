package config

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"12h", "12h"},
		{"720m", "12h"},
		{"90m", "1h30m"},
		{"1h0m1s", "1h1s"},
		{"4s", "4s"},
		{"1.5s", "1.5s"},
		{"1m0.25s", "1m0.25s"},
		{"500ms", "500ms"},
		{"0", "0s"},
		{"0s", "0s"},
		{"86400s", "24h"},
	} {
		var d Duration
		if err := d.UnmarshalText([]byte(tc.in)); err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		b, _ := d.MarshalText()
		if string(b) != tc.want {
			t.Errorf("%q marshals as %q, want %q", tc.in, b, tc.want)
		}
		var back Duration
		if err := back.UnmarshalText(b); err != nil || back != d {
			t.Errorf("%q does not read back: %v, %v", b, back, err)
		}
	}
	for _, in := range []string{"", "-1s", "12", "abc", "1y"} {
		var d Duration
		if err := d.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q accepted as %v", in, d.D())
		}
	}
	if got := Duration(4 * time.Second).D(); got != 4*time.Second {
		t.Errorf("D() = %v", got)
	}
}

func TestMAC(t *testing.T) {
	for in, want := range map[string]string{
		"02:00:00:00:00:0A": "02:00:00:00:00:0a",
		"02-00-00-00-00-0a": "02:00:00:00:00:0a",
		"0200.0000.000a":    "02:00:00:00:00:0a",
		"":                  "",
	} {
		var m MAC
		if err := m.UnmarshalText([]byte(in)); err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if b, _ := m.MarshalText(); string(b) != want {
			t.Errorf("%q marshals as %q, want %q", in, b, want)
		}
	}
	for _, in := range []string{"zz", "02:00:00:00:00", "02:00:00:ff:fe:00:00:01"} {
		var m MAC
		if err := m.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q accepted as %v", in, m)
		}
	}
}

func TestRouterID(t *testing.T) {
	var r RouterID
	if err := r.UnmarshalText([]byte("02-00-00-FF-FE-00-00-01")); err != nil {
		t.Fatal(err)
	}
	if r != (RouterID{2, 0, 0, 0xff, 0xfe, 0, 0, 1}) || r.String() != "02:00:00:ff:fe:00:00:01" {
		t.Errorf("got %v", r)
	}
	if err := r.UnmarshalText(nil); err != nil || !r.IsZero() || r.String() != "" {
		t.Errorf("empty: %v %v", r, err)
	}
	for _, in := range []string{"00:00:00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", "x"} {
		if err := r.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestPortRange(t *testing.T) {
	for in, want := range map[string]PortRange{
		"80":        {80, 80},
		"1-65535":   {1, 65535},
		"80-80":     {80, 80},
		"0443":      {443, 443},
		"1000-2000": {1000, 2000},
	} {
		var p PortRange
		if err := p.UnmarshalText([]byte(in)); err != nil || p != want {
			t.Errorf("%q = %v, %v; want %v", in, p, err, want)
		}
	}
	for _, in := range []string{"0", "65536", "2-1", "-", "1-", "-5", "http", "1-2-3", " 80", "+80", "999999999999"} {
		var p PortRange
		if err := p.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q accepted as %v", in, p)
		}
	}
	if s := (PortRange{6000, 6010}).String(); s != "6000-6010" {
		t.Errorf("String = %q", s)
	}
}
