package prefix

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net/netip"
	"testing"
	"testing/iotest"
)

func TestGenerateULA(t *testing.T) {
	got := GenerateULA(bytes.NewReader([]byte{1, 2, 3, 4, 5, 6, 7}))
	if want := pfx("fd01:203:405::/48"); got != want {
		t.Errorf("GenerateULA = %s, want %s", got, want)
	}
	if got := GenerateULA(iotest.ErrReader(errors.New("no entropy"))); got.IsValid() {
		t.Errorf("GenerateULA on a failing reader = %s, want the zero Prefix", got)
	}
	if got := GenerateULA(bytes.NewReader([]byte{1, 2})); got.IsValid() {
		t.Errorf("GenerateULA on a short reader = %s", got)
	}
	a, b := GenerateULA(rand.Reader), GenerateULA(rand.Reader)
	for _, p := range []netip.Prefix{a, b} {
		if p.Bits() != 48 || !isULA(p) || p.Addr().As16()[0] != 0xfd {
			t.Errorf("random ULA %v is not an fd00::/8 /48", p)
		}
	}
	if a == b {
		t.Errorf("two random ULAs are both %s", a)
	}
}
