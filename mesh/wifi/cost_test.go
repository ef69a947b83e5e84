package wifi

import (
	"net"
	"testing"
)

var peerMAC = net.HardwareAddr{0x02, 0, 0, 0, 0x01, 0}

// est is an established peer's sample with the given counters.
func est(packets, retries, failed, throughput uint32) Station {
	return Station{MAC: peerMAC, TxPackets: packets, TxRetries: retries, TxFailed: failed, ExpectedThroughput: throughput, Plink: PlinkEstablished}
}

func TestCost(t *testing.T) {
	other := est(1000, 1000, 100, 0)
	other.MAC = net.HardwareAddr{0x02, 0, 0, 0, 0x02, 0}
	tests := []struct {
		name      string
		prev, cur Station
		want      int
	}{
		{"no traffic, throughput unknown", Station{}, est(0, 0, 0, 0), NominalCost},
		{"perfect at the reference", Station{}, est(100, 0, 0, ReferenceThroughput), NominalCost},
		{"faster than the reference costs no less", Station{}, est(100, 0, 0, 300_000), NominalCost},
		{"half the reference", Station{}, est(100, 0, 0, 50_000), 512},
		{"54 Mbit/s legacy, minstrel says 30", Station{}, est(0, 0, 0, 30_000), 853}, // 256 * 10/3
		{"every frame sent twice", est(1000, 500, 10, 0), est(1100, 600, 10, 0), 512},
		{"retries and failures", est(1000, 500, 10, 0), est(1100, 550, 30, 0), 480}, // 150/80 * 256
		{"retries, failures and throughput", est(1000, 500, 10, 0), est(1100, 550, 30, 50_000), 960},
		{"first sample counts since the station came", Station{}, est(100, 100, 0, 0), 512},
		{"too few attempts for a loss rate", est(1000, 500, 10, 0), est(1005, 510, 13, 0), NominalCost},
		{"just enough attempts", est(1000, 500, 10, 0), est(1008, 508, 10, 0), 512},
		{"retries without frames say nothing", est(1000, 500, 10, 0), est(1000, 600, 10, 0), NominalCost},
		{"nothing got through", est(1000, 500, 10, 0), est(1020, 640, 30, 0), MaxCost},
		{"bounded loss", est(0, 0, 0, 0), est(100, 700, 90, 0), MaxCost}, // 800/10 * 256
		{"bounded throughput", Station{}, est(0, 0, 0, 1000), MaxCost},   // 1 Mbit/s: 25600
		{"counters went back: a new station entry", est(5000, 5000, 500, 0), est(100, 0, 0, 50_000), 512},
		{"prev of another peer counts as none", other, est(100, 100, 0, 0), 512},
		{"not established", Station{}, Station{MAC: peerMAC, Plink: PlinkHolding}, Infinity},
		{"peer link state unknown", Station{}, Station{MAC: peerMAC, Plink: PlinkUnknown}, Infinity},
		{"opening", Station{}, Station{MAC: peerMAC, Plink: PlinkOpenSent, TxPackets: 10}, Infinity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Cost(tc.prev, tc.cur); got != tc.want {
				t.Errorf("Cost = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestCostMonotonic: more retries, more failures or less throughput never
// make a link cheaper, and the cost stays within its bounds.
func TestCostMonotonic(t *testing.T) {
	prev := est(1000, 1000, 100, 0)
	for _, tput := range []uint32{0, 500, 6000, 54_000, 100_000, 1 << 31} {
		last := 0
		for retries := uint32(0); retries <= 4000; retries += 50 {
			c := Cost(prev, est(1200, 1000+retries, 110, tput))
			if c < last || c < NominalCost || c > MaxCost {
				t.Fatalf("throughput %d retries %d: cost %d after %d", tput, retries, c, last)
			}
			last = c
		}
	}
	for failed := uint32(0); failed < 200; failed++ {
		a, b := Cost(prev, est(1200, 1100, 100+failed, 20_000)), Cost(prev, est(1200, 1100, 101+failed, 20_000))
		if b < a {
			t.Fatalf("failed %d: %d then %d", failed, a, b)
		}
	}
}

func TestPlinkString(t *testing.T) {
	for s, want := range map[PlinkState]string{
		PlinkListen: "listen", PlinkEstablished: "established", PlinkBlocked: "blocked",
		PlinkUnknown: "unknown", PlinkState(9): "state-9",
	} {
		b, _ := s.MarshalText()
		if s.String() != want || string(b) != want {
			t.Errorf("%d: %q %q, want %q", uint8(s), s, b, want)
		}
	}
}
