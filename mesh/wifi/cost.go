package wifi

import (
	"bytes"
	"fmt"
	"net"
	"time"
)

// Station is what the kernel reports about one mesh peer (a station entry
// of the mesh point interface).
type Station struct {
	MAC           net.HardwareAddr
	Signal        int // dBm of the last frame received; 0 when not reported
	SignalAverage int // dBm, averaged by the driver; 0 when not reported
	// ExpectedThroughput is the rate control's estimate (minstrel's) of
	// what the link carries, in kbit/s; 0 when the driver does not say.
	ExpectedThroughput uint32
	TxPackets          uint32 // frames handed to the radio for this peer
	TxRetries          uint32 // retransmissions, beyond each frame's first attempt
	TxFailed           uint32 // frames never acknowledged after all retries
	RxPackets          uint32
	Inactive           time.Duration // since the last frame from or to the peer
	Connected          time.Duration // since the station entry was created
	Plink              PlinkState
}

// PlinkState is the state of an 802.11s peer link; the values are the
// kernel's (enum nl80211_plink_state).
type PlinkState uint8

const (
	PlinkListen PlinkState = iota
	PlinkOpenSent
	PlinkOpenReceived
	PlinkConfirmReceived
	PlinkEstablished
	PlinkHolding
	PlinkBlocked
	// PlinkUnknown stands for a station whose peer link state the
	// kernel did not report: not a mesh peer.
	PlinkUnknown PlinkState = 0xff
)

var plinkNames = [...]string{"listen", "open-sent", "open-received", "confirm-received", "established", "holding", "blocked"}

func (s PlinkState) String() string {
	if int(s) < len(plinkNames) {
		return plinkNames[s]
	}
	if s == PlinkUnknown {
		return "unknown"
	}
	return fmt.Sprintf("state-%d", uint8(s))
}

// MarshalText makes the state read as its name in JSON.
func (s PlinkState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// The scale of Cost.
const (
	// NominalCost is the cost of a link that needs no retransmissions and
	// runs at ReferenceThroughput or faster. It is babeld's default
	// rxcost on wireless interfaces, so that radio costs and Babel's own
	// Hello-based costs are on one scale.
	NominalCost = 256
	// MaxCost bounds the cost of a link that still works. It is kept well
	// below Infinity so that a route over a few poor links still adds up
	// to a finite metric: a poor link is better than none.
	MaxCost = 16384
	// Infinity is Babel's infinite cost: the link carries nothing.
	Infinity = 0xFFFF
	// ReferenceThroughput, in kbit/s, is the expected throughput above
	// which a faster link costs no less.
	ReferenceThroughput = 100_000
)

// minAttempts is the fewest transmission attempts between two samples
// from which a loss rate is believed; with fewer, Babel's Hello-based
// cost, which Babel keeps anyway, speaks for the link.
const minAttempts = 16

// Cost turns two samples of a peer's statistics, taken some seconds apart,
// into a Babel link cost between NominalCost and MaxCost, or Infinity
// when the peer link is not established (mac80211 carries no data over
// it then).
//
// The cost is NominalCost times two factors:
//
//   - the MAC layer's expected transmission count over the interval:
//     attempts (frames plus retries) per frame delivered (frames minus
//     failures). It counts what each delivered frame costs in airtime,
//     which Babel's Hello-based ETX cannot see because lost unicast
//     frames are retried below it. Taken as 1 with fewer than 16
//     attempts, with counters that went backwards (a new station entry)
//     or without frames; MaxCost when nothing got through.
//   - ReferenceThroughput over the expected throughput, when the driver
//     reports one and it is below the reference: a 10 Mbit/s link costs
//     ten times what a 100 Mbit/s one does, as airtime per bit does.
//
// prev may be the zero Station (the first sample): the counters since the
// station entry was created then count as the interval. A prev for
// another MAC address counts as the zero Station. Hysteresis is the
// caller's: Babel's SetLinkCost ignores small changes.
func Cost(prev, cur Station) int {
	if cur.Plink != PlinkEstablished {
		return Infinity
	}
	if !bytes.Equal(prev.MAC, cur.MAC) {
		prev = Station{}
	}
	cost := uint64(NominalCost)
	if cur.TxPackets >= prev.TxPackets && cur.TxRetries >= prev.TxRetries && cur.TxFailed >= prev.TxFailed {
		sent := uint64(cur.TxPackets - prev.TxPackets)
		retries := uint64(cur.TxRetries - prev.TxRetries)
		failed := uint64(cur.TxFailed - prev.TxFailed)
		if attempts := sent + retries; sent > 0 && attempts >= minAttempts {
			if failed >= sent {
				return MaxCost
			}
			delivered := sent - failed
			cost = min((attempts*NominalCost+delivered/2)/delivered, MaxCost)
		}
	}
	if t := uint64(cur.ExpectedThroughput); t > 0 && t < ReferenceThroughput {
		cost = (cost*ReferenceThroughput + t/2) / t
	}
	return int(min(max(cost, NominalCost), MaxCost))
}
