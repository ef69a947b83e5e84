package ra

import (
	"testing"

	"cpe/internal/golden"
)

// TestGoldenSolicitation pins the bytes of the Router Solicitation: type
// 133, code 0, a zero checksum for the kernel to fill in, four reserved
// bytes and, with a MAC, the Source Link-Layer Address option.
func TestGoldenSolicitation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"rs", testCfg},
		{"rs_no_mac", Config{Interface: "ppp0", SecretKey: testKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.cfg)
			h.start()
			h.nextRS()
			p := h.sent[0]
			golden.Check(t, "golden/"+tc.name+".hex", hexDump("router solicitation to ff02::2", p.data))
		})
	}
}
